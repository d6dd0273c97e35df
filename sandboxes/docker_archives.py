"""Tar archives of a Docker sandbox's workspace, as ``put_archive``/``get_archive`` move them.

Built and read on the host, with no engine: the seed folder's contents, one file written into
the workspace, one file read out of it, and a workspace snapshot rebased to hold the folder's
contents. Everything in them is owned by the sandbox user; devices, fifos and sockets stay out.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO

from prmgym.errors import SandboxError
from prmgym.sandboxes.session import UID

SPOOL_BYTES = 32 << 20
"""How much of an archive stays in memory before it spills to a temporary file."""


def _agent_owned(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Tar filter: the sandbox user owns everything; devices, fifos and sockets stay out."""
    if not (info.isdir() or info.isreg() or info.issym() or info.islnk()):
        return None
    info.uid = info.gid = UID
    info.uname = info.gname = ""
    return info


def seed_archive(seed: Path) -> IO[bytes]:
    """The seed folder's contents as a tar archive (links kept as links)."""
    archive = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for entry in sorted(seed.iterdir()):
            tar.add(entry, arcname=entry.name, filter=_agent_owned)
    archive.seek(0)
    return archive


def file_archive(parts: list[str], existing: int, data: bytes, mode: int) -> bytes:
    """A tar archive of one file, with entries for the folders on its path that are missing.

    Docker would make a missing folder owned by root, which the sandbox user could not write.
    """
    now = time.time()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for depth in range(existing + 1, len(parts)):
            folder = tarfile.TarInfo("/".join(parts[:depth]))
            folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, now
            folder.uid = folder.gid = UID
            tar.addfile(folder)
        info = tarfile.TarInfo("/".join(parts))
        info.size, info.mode, info.mtime = len(data), mode, now
        info.uid = info.gid = UID
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def archived_file(data: bytes, relative: str) -> bytes:
    """The bytes of the one file a ``get_archive`` of workspace file ``relative`` holds.

    Raises:
        SandboxError: Its entry is not a regular file.
    """
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.next()
        # Checked again here: a link may have replaced the file since the inspection.
        extracted = archive.extractfile(member) if member and member.isreg() else None
        if extracted is None:
            raise SandboxError(f"{relative!r} is not a regular file")
        return extracted.read()


def rebase(source: IO[bytes], target: IO[bytes], top: str) -> None:
    """Copy a ``get_archive`` of folder ``top`` into a tar archive of its contents.

    ``put_archive`` extracts into an existing folder, and the read-only root cannot take
    ``top`` itself. Only folders, regular files and links are kept (as the bubblewrap
    backend's snapshots do).
    """
    prefix = top + "/"
    with (
        tarfile.open(fileobj=source, mode="r:") as given,
        tarfile.open(fileobj=target, mode="w") as kept,
    ):
        for member in given:
            if not member.name.startswith(prefix) or _agent_owned(member) is None:
                continue
            member.name = member.name[len(prefix) :]
            if member.islnk():
                if not member.linkname.startswith(prefix):
                    continue
                member.linkname = member.linkname[len(prefix) :]
            kept.addfile(member, given.extractfile(member) if member.isreg() else None)
    target.seek(0)
