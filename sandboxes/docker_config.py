"""What a Docker sandbox is made of, and the text it speaks: no engine is needed here.

- :func:`container_config`: the ``client.containers.create`` arguments of one sandbox (how
  :class:`~prmgym.sandboxes.base.SandboxLimits` map onto the container), with the keeper script
  its main process runs;
- :func:`command_message`: what the host sends the shell for one command;
- :func:`demux_frames`: how the host splits Docker's multiplexed attach/exec stream;
- the ``sh`` scripts the host runs through ``docker exec`` as the sandbox user
  (:data:`KILL_ALL_BUT_KEEPER`, :data:`OUTPUTS`, :data:`INSPECT`, :data:`CLEAR`).

:class:`~prmgym.sandboxes.docker_sandbox.DockerSandbox` drives a live engine with these.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import WORKSPACE, SandboxLimits
from prmgym.sandboxes.session import CONTROL, DONE, EXITED, READY, UID

_LABEL = "prmgym.sandbox"
_TMP_BYTES = 64 << 20
_HEADROOM_MB = 256
_DEFAULT_ENV = {"HOME": WORKSPACE, "LANG": "C.UTF-8", "TMPDIR": "/tmp", "TERM": "dumb"}

# Run by `docker exec` as the sandbox user: the container has no capabilities, so root could
# not signal the agent's processes, while their owner can. Everything but init, the keeper
# and this shell is killed; zombies only wait for init and are skipped. Exits 1 when
# processes keep appearing (a fork bomb outrunning the loop), so the caller rebuilds.
KILL_ALL_BUT_KEEPER = """\
keeper=$1 round=0
while [ "$round" -lt 50 ]; do
  round=$((round + 1)) left=
  for entry in /proc/[0-9]*; do
    pid=${entry#/proc/}
    case $pid in 1 | "$keeper" | $$) continue ;; esac
    read -r stat < "$entry/stat" 2>/dev/null || continue
    state=${stat##*) }
    case $state in Z*) continue ;; esac
    kill -9 "$pid" 2>/dev/null && left=1
  done
  # The keeper goes on, in case a command stopped it: it must see its shell end.
  [ -n "$left" ] || { kill -CONT "$keeper" 2>/dev/null; exit 0; }
done
exit 1
"""

# The first $1 bytes of the command's stdout (to our stdout) and stderr (to our stderr).
OUTPUTS = f'head -c "$1" /{CONTROL}/out 2>/dev/null; head -c "$1" /{CONTROL}/err >&2 2>/dev/null'

# Walks a workspace path (one argument per component) without following links. Prints the
# index of a component that is a link or not a folder (exit 1); "link" or "folder" when the
# last component is one (exit 2); otherwise its state ("missing", "file", "executable") and
# how many leading folders exist (exit 0).
INSPECT = f"""\
cd {WORKSPACE} || exit 3
path= i=0
while [ $# -gt 1 ]; do
  path=$path$1
  if [ -L "$path" ] || {{ [ -e "$path" ] && [ ! -d "$path" ]; }}; then echo "$i"; exit 1; fi
  [ -d "$path" ] || {{ echo "missing $i"; exit 0; }}
  path=$path/ i=$((i + 1))
  shift
done
path=$path$1
if [ -L "$path" ]; then echo link; exit 2; fi
if [ -d "$path" ]; then echo folder; exit 2; fi
if [ -x "$path" ]; then echo "executable $i"
elif [ -e "$path" ]; then echo "file $i"
else echo "missing $i"; fi
"""

# Empties the workspace; folders the agent made unreadable or unwritable are opened first
# (chmod -R does not follow the links it meets).
CLEAR = f"chmod -R u+rwX {WORKSPACE} 2>/dev/null; find {WORKSPACE} -mindepth 1 -delete"


def docker_sdk() -> ModuleType:
    """The Docker SDK (``import docker``); a SandboxError says how to install it if missing."""
    try:
        import docker
    except ImportError as exc:
        raise SandboxError(
            "the Docker sandbox needs the Docker SDK: pip install 'prmgym[docker]'"
        ) from exc
    return docker


def demux_frames(buffer: bytes) -> tuple[bytes, bytes, bytes]:
    """Split Docker's multiplexed stream (an attach or exec without a TTY) into its streams.

    Each frame is an 8-byte header (stream type, three zero bytes, big-endian payload size)
    followed by the payload. Stream 0 (stdin echoed) and 1 are stdout; 2 and 3 (the engine's
    own errors) are stderr.

    Returns:
        ``(stdout, stderr, rest)``: the payloads of the complete frames, and the bytes of an
        incomplete last frame, to be prefixed to what arrives next.

    Raises:
        SandboxError: A header names no stream (the stream is not multiplexed).
    """
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    position = 0
    while len(buffer) - position >= 8:
        kind = buffer[position]
        if kind > 3:
            raise SandboxError(f"Docker sent a frame of unknown stream type {kind}")
        start = position + 8
        end = start + int.from_bytes(buffer[position + 4 : start], "big")
        if end > len(buffer):
            break
        (stdout if kind <= 1 else stderr).append(buffer[start:end])
        position = end
    return b"".join(stdout), b"".join(stderr), buffer[position:]


def container_config(
    limits: SandboxLimits,
    image: str,
    env: Mapping[str, str],
    *,
    cpus: float | None = None,
) -> dict[str, Any]:
    """Keyword arguments of ``client.containers.create`` for one sandbox.

    How the limits map: ``memory_mb`` plus the workspace (its tmpfs is charged to the
    container) and headroom is the cgroup's memory, with no swap; ``memory_mb`` alone is every
    process's address space (``ulimit -v`` in the keeper: Docker's ``ulimits`` cannot set
    it); ``processes`` is the cgroup's pids limit; ``cpu_s`` and ``file_size_mb`` are rlimits
    (seconds, bytes); ``workspace_mb`` sizes the workspace tmpfs; ``output_bytes`` sizes the
    control tmpfs. There is deliberately no ``nproc`` rlimit: it counts every process of uid
    1000 on the host, not the container's.

    The container is created, not run, so the host can attach before it starts; without
    ``detach``, docker-py sets ``StdinOnce``, so the keeper reads end of file and the
    container stops (and is removed) when the host goes away.

    Args:
        limits: Resource limits.
        image: Image to run; it needs ``bash`` and a POSIX shell with ``head`` and ``find``.
        env: Environment variables of the shell, over ``HOME`` = ``/workspace``, ``LANG``,
            ``TMPDIR`` and ``TERM`` (the image's ``PATH`` is kept unless ``env`` sets one).
        cpus: CPUs the container may use (``nano_cpus``); None leaves it unbounded.

    Raises:
        SandboxError: The Docker SDK is missing.
    """
    types = docker_sdk().types
    memory = (limits.memory_mb + limits.workspace_mb + _HEADROOM_MB) << 20
    workspace_options = {
        "type": "tmpfs",
        "device": "tmpfs",
        "o": f"size={limits.workspace_mb}m,uid={UID},gid={UID},mode=0755,nosuid,nodev",
    }
    workspace = types.Mount(
        target=WORKSPACE,
        source=None,
        type="volume",
        no_copy=True,
        driver_config=types.DriverConfig("local", workspace_options),
    )
    control_bytes = 2 * limits.output_bytes + (4 << 20)
    config: dict[str, Any] = {
        "image": image,
        "command": ["/bin/bash", "-c", _keeper_script(limits)],
        "user": f"{UID}:{UID}",
        "working_dir": WORKSPACE,
        "hostname": "sandbox",
        "environment": {**_DEFAULT_ENV, **env},
        "labels": {_LABEL: "1"},
        "stdin_open": True,
        "tty": False,
        "init": True,
        "auto_remove": True,
        "network_mode": "none",
        "read_only": True,
        "mounts": [workspace],
        "tmpfs": {
            "/tmp": f"size={_TMP_BYTES},mode=1777,exec",
            f"/{CONTROL}": f"size={control_bytes},uid={UID},gid={UID},mode=0700",
        },
        "mem_limit": memory,
        "memswap_limit": memory,
        "pids_limit": limits.processes,
        "ulimits": [
            types.Ulimit(name="cpu", soft=limits.cpu_s, hard=limits.cpu_s),
            types.Ulimit(
                name="fsize", soft=limits.file_size_mb << 20, hard=limits.file_size_mb << 20
            ),
        ],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
    }
    if cpus is not None:
        config["nano_cpus"] = int(cpus * 1e9)
    return config


def _keeper_script(limits: SandboxLimits) -> str:
    return (
        f"ulimit -v {limits.memory_mb << 10} || exit 97\n"
        f'echo "{READY} $$"\n'
        # After a shell ends, the next starts only when the host says so (an empty line),
        # so a timeout's cleanup cannot kill the new shell too.
        f'while :; do cd {WORKSPACE}; bash --noprofile --norc; echo "{EXITED} $?";'
        " read -r _ || exit 0; done\n"
    )


def command_message(command: str, nonce: str) -> str:
    """What the shell reads for one command: the text as a here-document, then the run line.

    Only builtins and ``/bin/rm`` (on the read-only image) touch the text, so a changed
    ``PATH`` or a function named like a command cannot break the protocol; ``>|`` writes
    through ``set -o noclobber``. Whatever else is in the control folder goes first, so files
    left there cannot fill it; a command file that could not be written whole is not run.
    The shell reads all of it before the command starts, so nothing is left on stdin for the
    keeper; the leading newline ends any partial line a process left there.
    """
    end = f"__prmgym_end_{nonce}"
    control = f"/{CONTROL}"
    return (
        f"\nbuiltin command /bin/rm -rf {control}/* {control}/.[!.]* 2>/dev/null; "
        f"{{ IFS= builtin read -r -d '' _prmgym_cmd || :; }} <<'{end}'; "
        f"builtin printf '%s' \"$_prmgym_cmd\" >|{control}/cmd && builtin unset _prmgym_cmd &&"
        f" . {control}/cmd </dev/null >|{control}/out 2>|{control}/err; "
        f'builtin echo "{DONE} {nonce} $?"\n'
        f"{command}\n{end}\n"
    )
