"""The Docker sandbox's container configuration and protocol text, checked without an engine.

What ``docker_config`` builds: the ``containers.create`` arguments (as docker-py would send them
to the engine), the multiplexed frames the host splits, and the script the timeout runs in the
container (run for real in a pid namespace). The behaviour tests are in test_docker_sandbox.py.
"""

import struct
import subprocess

import docker
import pytest
from docker.models.containers import _create_container_args
from hypothesis import given
from hypothesis import strategies as st

from prmgym.errors import SandboxError
from prmgym.sandboxes import docker_config
from prmgym.sandboxes.base import SandboxLimits
from prmgym.sandboxes.docker_config import container_config, demux_frames

LIMITS = SandboxLimits(timeout_s=5, workspace_mb=64, output_bytes=1000)


def frame(kind, payload):
    return struct.pack(">BxxxL", kind, len(payload)) + payload


# -- the container's configuration ----------------------------------------------------------


def host_config(config):
    """What docker-py would send to the engine for these arguments."""
    create = _create_container_args({**config, "version": "1.45"})
    api = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.45")
    return api.create_container_config(**create)


def test_each_limit_maps_to_its_docker_field_and_unit():
    limits = SandboxLimits(
        cpu_s=17, memory_mb=300, processes=42, file_size_mb=5, workspace_mb=70, output_bytes=1000
    )
    config = container_config(limits, "img:1", {}, cpus=1.5)
    memory = (300 + 70 + 256) << 20
    assert config["mem_limit"] == config["memswap_limit"] == memory  # no swap
    assert config["pids_limit"] == 42
    assert config["nano_cpus"] == 1_500_000_000
    ulimits = {u.name: (u.soft, u.hard) for u in config["ulimits"]}
    assert ulimits == {"cpu": (17, 17), "fsize": (5 << 20, 5 << 20)}  # seconds, bytes
    assert "ulimit -v 307200 " in config["command"][2]  # KiB of address space per process
    (workspace,) = config["mounts"]
    options = workspace["VolumeOptions"]["DriverConfig"]["Options"]
    assert workspace["Target"] == "/workspace" and workspace["Type"] == "volume"
    assert options["type"] == "tmpfs" and options["o"].startswith("size=70m,uid=1000,gid=1000,")
    assert config["tmpfs"]["/.prmgym"].startswith(f"size={2 * 1000 + (4 << 20)},")
    assert "nano_cpus" not in container_config(limits, "img:1", {})


def test_the_container_is_isolated_unprivileged_and_attachable():
    config = container_config(LIMITS, "python:3.11-slim", {"A": "1", "HOME": "/elsewhere"})
    sent = host_config(config)
    host = sent["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd") and not host.get("Privileged")
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert sent["User"] == "1000:1000" and not sent["User"].startswith("0")
    assert host["Init"] is True and host["AutoRemove"] is True
    assert host["Memory"] == host["MemorySwap"] and host["PidsLimit"] == LIMITS.processes
    assert set(host["Tmpfs"]) == {"/tmp", "/.prmgym"}
    assert not host.get("Binds")  # nothing of the host is mounted
    # Attached before start; StdinOnce makes the keeper exit when the host goes away.
    assert sent["OpenStdin"] and sent["StdinOnce"] and not sent["Tty"]
    assert sent["WorkingDir"] == "/workspace" and sent["Labels"] == {"prmgym.sandbox": "1"}
    assert (
        "HOME=/elsewhere" in sent["Env"] and "A=1" in sent["Env"] and "LANG=C.UTF-8" in sent["Env"]
    )
    assert sent["Image"] == "python:3.11-slim"


# -- frames ---------------------------------------------------------------------------------


def test_frames_are_split_by_stream_and_a_partial_frame_is_kept():
    stream = frame(1, b"out1") + frame(2, b"err") + frame(0, b"in") + frame(1, b"out2")
    partial = frame(1, b"later")[:10]
    assert demux_frames(stream + partial) == (b"out1inout2", b"err", partial)
    assert demux_frames(b"\x01\x00\x00") == (b"", b"", b"\x01\x00\x00")
    assert demux_frames(frame(3, b"engine")) == (b"", b"engine", b"")


def test_a_stream_that_is_not_multiplexed_is_refused():
    with pytest.raises(SandboxError, match="unknown stream type"):
        demux_frames(b"plain text, no header")


@given(
    st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=40)), max_size=8),
    st.lists(st.integers(min_value=1, max_value=30), max_size=20),
)
def test_frames_split_anywhere_give_the_same_streams(frames, cuts):
    stream = b"".join(frame(kind, payload) for kind, payload in frames)
    out = err = rest = b""
    position = 0
    for size in [*cuts, len(stream)]:
        got_out, got_err, rest = demux_frames(rest + stream[position : position + size])
        out, err, position = out + got_out, err + got_err, position + size
    assert rest == b""
    assert out == b"".join(p for k, p in frames if k == 1)
    assert err == b"".join(p for k, p in frames if k == 2)


# -- the script the timeout runs -----------------------------------------------------------


def test_the_kill_script_spares_init_the_keeper_and_itself(tmp_path):
    """The script the timeout runs in the container, run for real in a pid namespace."""
    from prmgym.sandboxes.bubblewrap import bwrap_executable

    # This shell stands for the keeper; bwrap's own init is PID 1.
    keeper = (
        "sleep 301 & (sleep 302 &); sh -c 'sleep 303' & sleep 0.2; "
        'sh -c "$1" sh $$; echo "status $? keeper $$"; wait; sleep 0.1; '
        "for d in /proc/[0-9]*; do read -r s < $d/stat; case ${s##*) } in Z*) continue;; esac; "
        "echo ${d#/proc/} $(cat $d/comm); done"
    )
    bwrap = [bwrap_executable(), "--dev-bind", "/", "/", "--unshare-pid", "--proc", "/proc"]
    bwrap += ["--die-with-parent", "--"]
    try:
        probe = subprocess.run([*bwrap, "true"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        pytest.skip(f"bubblewrap cannot make a pid namespace here: {exc}")
    if probe.returncode != 0:
        pytest.skip(f"bubblewrap cannot make a pid namespace here: {probe.stderr.strip()}")
    script = docker_config.KILL_ALL_BUT_KEEPER
    done = subprocess.run(
        [*bwrap, "sh", "-c", keeper, "sh", script], capture_output=True, text=True, timeout=30
    )
    status, *listing = done.stdout.splitlines()
    assert status.startswith("status 0 keeper ")
    survivors = dict(line.split(maxsplit=1) for line in listing)
    assert "sleep" not in survivors.values()
    assert "1" in survivors and status.split()[-1] in survivors  # init and the keeper live
