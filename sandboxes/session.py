"""What both sandbox backends share: the persistent shell's markers, exit statuses, messages.

Each backend runs a keeper that starts one shell after another, sends each command with a
fresh nonce and reads marker lines back (see :mod:`prmgym.sandboxes.bubblewrap`). The marker
words, the user the shell runs as, and the wording of every restart are the same in both, so
an agent (and a test) sees one contract whichever backend runs it.
"""

from __future__ import annotations

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import workspace_relative

CONTROL = ".prmgym"
"""The control folder at the sandbox's root: the command, its stdout and stderr."""
READY = "__prmgym_ready__"
DONE = "__prmgym_done__"
EXITED = "__prmgym_shell_exited__"
UID = 1000
"""The sandbox user's uid (and gid) inside."""
KILL_GRACE_S = 5.0
"""How long a killed shell or sandbox may take to go."""

SHELL_ENDED = (
    "the command ended the shell (exit, exec or a signal); a new shell started"
    " in /workspace (working directory and variables reset, files kept)"
)


def timeout_message(limit: float) -> str:
    """The restart message of a command killed at its ``limit``-second timeout."""
    return (
        f"the command ran past its {limit:g} s timeout and was killed with everything it "
        "started; the shell was restarted (working directory and variables reset)"
    )


def rebuilt_message(why: str) -> str:
    """The restart message of a sandbox rebuilt from its seed, ``why`` saying what happened."""
    return f"{why}; it was rebuilt from its seed (workspace reset, shell restarted)"


def exit_status(word: str) -> int:
    """A marker's exit status; -1 for anything that is not a number."""
    try:
        return int(word)
    except ValueError:
        return -1


def workspace_file(path: str) -> str:
    """``path`` relative to the workspace, which it must not be itself (a file is needed)."""
    relative = workspace_relative(path)
    if not relative:
        raise SandboxError(f"{path!r} is the workspace itself; name a file in it")
    return relative
