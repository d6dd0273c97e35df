"""Privilege tricks: nested namespaces, mount, chroot, setuid, device nodes, TIOCSTI.

Shared helpers: attack_helpers.py; fixtures: conftest.py; ``sandboxes/README.md`` tabulates the
attacks.
"""

from __future__ import annotations

import pytest

from prmgym.sandboxes.bubblewrap import BubblewrapSandbox
from tests.sandboxes.attack_helpers import (
    PWNED,
    TAG,
    Host,
    answers,
)

# -- privileges ----------------------------------------------------------------------------------

PRIVILEGES = {
    "unshare_r_then_remount_usr": (
        "unshare -rm sh -c 'mount -o remount,rw,bind /usr; mount -o remount,rw /usr;"
        " touch /usr/{pwned} && echo ESCAPED; mount -t proc proc /proc && echo ESCAPED'"
    ),
    "nested_user_namespace_with_capabilities": (
        "unshare -rn grep CapEff /proc/self/status | grep -v '0000000000000000$' && echo ESCAPED"
    ),
    "mount_tmpfs_and_bind": (
        "mount -t tmpfs none /tmp && echo ESCAPED; mount --bind /workspace /usr && echo ESCAPED"
    ),
    "chroot": "/usr/sbin/chroot / /bin/true && echo ESCAPED",
    "setuid_su_and_setuid_0": (
        "su -c 'echo ESCAPED' root </dev/null; python3 -c 'import os; os.setuid(0);"
        ' print("ESCAPED")\'; [ "$(id -u)" = 1000 ] || echo ESCAPED'
    ),
    "set_hostname": f"hostname evil-{TAG} && echo ESCAPED",
    "mknod_a_disk": "mknod disk b 8 0 && echo ESCAPED; mknod mem c 1 1 && echo ESCAPED",
    "tiocsti_terminal_injection": (
        "python3 -c 'import fcntl, termios\nfor fd in (0, 1, 2):\n    try:\n"
        '        fcntl.ioctl(fd, termios.TIOCSTI, b"x"); print("ESCAPED")\n'
        '    except OSError as exc: print("refused", exc)\n'
        'try:\n    open("/dev/tty", "wb"); print("ESCAPED")\n'
        'except OSError as exc: print("refused", exc)\''
    ),
    "capabilities_of_the_shell": (
        "grep -E '^Cap(Eff|Prm|Amb)' /proc/self/status | grep -v '0000000000000000$'"
        " && echo ESCAPED"
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("attack", list(PRIVILEGES))
def test_privilege_tricks_fail(box: BubblewrapSandbox, host: Host, attack: str):
    result = box.exec(PRIVILEGES[attack].format(pwned=PWNED), timeout=10)
    assert "ESCAPED" not in result.stdout, result
    assert box.exec("mount | grep -c ' /usr '").stdout == "1\n"
    answers(box)
    host.assert_unchanged()
