"""File access under a directory the sandboxed code controls, never following its links.

The host reads and writes a sandbox's workspace while untrusted code may have filled it with
symbolic links (``ln -s /etc/shadow notes.txt``) or may swap a folder for a link between two
calls. Every path here is walked one component at a time from an open directory descriptor with
``O_NOFOLLOW``, so a link anywhere on the path is refused rather than followed out of the tree.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prmgym.errors import SandboxError

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@contextmanager
def _opened(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


def open_dir(root_fd: int, relative: str, *, create: bool = False) -> int:
    """A new descriptor of the folder ``relative`` under ``root_fd`` (``""``: the root itself).

    Args:
        root_fd: Descriptor of the tree's root folder.
        relative: ``/``-separated path inside it, already checked for ``..``.
        create: Make missing folders on the way.

    Raises:
        SandboxError: A component is a link or not a folder, or is missing and ``create`` is off.
    """
    fd = os.dup(root_fd)
    for part in [p for p in relative.split("/") if p]:
        try:
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            child = os.open(part, _DIR, dir_fd=fd)
        except OSError as exc:
            os.close(fd)
            raise SandboxError(
                f"{relative!r}: {part!r} is not a folder here ({exc.strerror})"
            ) from exc
        os.close(fd)
        fd = child
    return fd


def read_bytes(root_fd: int, relative: str, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``relative`` (at most ``limit``)."""
    folder, _, name = relative.rpartition("/")
    with _opened(open_dir(root_fd, folder)) as dir_fd:
        try:
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError as exc:
            raise SandboxError(f"cannot read {relative!r}: {exc.strerror}") from exc
        with _opened(fd):
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SandboxError(f"{relative!r} is not a regular file")
            chunks, left = [], limit if limit is not None else -1
            while left != 0:
                chunk = os.read(fd, 1 << 20 if left < 0 else min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                if left > 0:
                    left -= len(chunk)
            return b"".join(chunks)


def write_bytes(root_fd: int, relative: str, data: bytes, mode: int = 0o644) -> None:
    """Create or replace the file ``relative`` with ``data``, making its folders."""
    folder, _, name = relative.rpartition("/")
    if not name:
        raise SandboxError("a file path is needed, got a folder")
    with _opened(open_dir(root_fd, folder, create=True)) as dir_fd:
        # Non-blocking open, then a type check: a fifo put there must not hang the host.
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            fd = os.open(name, flags, mode, dir_fd=dir_fd)
        except OSError as exc:
            raise SandboxError(f"cannot write {relative!r}: {exc.strerror}") from exc
        with _opened(fd):
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SandboxError(f"cannot write {relative!r}: it is not a regular file")
            os.set_blocking(fd, True)
            try:
                os.ftruncate(fd, 0)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as exc:  # a full disk, a file size limit
                raise SandboxError(f"cannot write {relative!r}: {exc.strerror}") from exc


def replace_bytes(root_fd: int, relative: str, data: bytes) -> None:
    """Like :func:`write_bytes`, after removing whatever is at ``relative`` first.

    For files the host owns in a tree that sandboxed code can change too: a link, a fifo or a
    folder put in their place is removed, not written through.
    """
    folder, _, name = relative.rpartition("/")
    with _opened(open_dir(root_fd, folder, create=True)) as dir_fd:
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            with _opened(os.open(name, _DIR, dir_fd=dir_fd)) as child:
                clear_dir(child)
            os.rmdir(name, dir_fd=dir_fd)
        elif info is not None:
            os.unlink(name, dir_fd=dir_fd)
    write_bytes(root_fd, relative, data)


def clear_dir(dir_fd: int, keep: tuple[str, ...] = ()) -> None:
    """Delete everything inside the folder ``dir_fd`` (not the folder), links as links.

    Entries named in ``keep`` stay (a mount point, say, which cannot be removed).
    """
    for entry in os.listdir(dir_fd):
        if entry in keep:
            continue
        info = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            with _opened(os.open(entry, _DIR, dir_fd=dir_fd)) as child:
                clear_dir(child)
            os.rmdir(entry, dir_fd=dir_fd)
        else:
            os.unlink(entry, dir_fd=dir_fd)


@dataclass
class CopyBudget:
    """What one :func:`copy_dir` may write: bytes of data and entries (files, folders, links).

    Holes in sparse files are kept as holes and cost nothing; running out raises SandboxError.
    """

    data_bytes: int
    entries: int

    def take(self, data_bytes: int = 0, entries: int = 0) -> None:
        """Spend from the budget.

        Raises:
            SandboxError: It is spent.
        """
        self.data_bytes -= data_bytes
        self.entries -= entries
        if self.data_bytes < 0 or self.entries < 0:
            raise SandboxError(
                "the copy is larger than the workspace quota allows (too many bytes or files)"
            )


def copy_dir(source_fd: int, target_fd: int, budget: CopyBudget | None = None) -> int:
    """Copy the contents of folder ``source_fd`` into folder ``target_fd``; returns bytes copied.

    Regular files, folders and links (copied as links, never followed) keep their permission
    bits; anything else (devices, sockets, fifos) is left out. Holes stay holes, so a sparse
    file costs the target only its data.

    Raises:
        SandboxError: The copy outgrew ``budget``.
    """
    copied = 0
    for entry in os.listdir(source_fd):
        info = os.stat(entry, dir_fd=source_fd, follow_symlinks=False)
        if budget is not None:
            budget.take(entries=1)
        if stat.S_ISDIR(info.st_mode):
            os.mkdir(entry, stat.S_IMODE(info.st_mode) | 0o700, dir_fd=target_fd)
            with (
                _opened(os.open(entry, _DIR, dir_fd=source_fd)) as src,
                _opened(os.open(entry, _DIR, dir_fd=target_fd)) as dst,
            ):
                copied += copy_dir(src, dst, budget)
        elif stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(entry, dir_fd=source_fd), entry, dir_fd=target_fd)
        elif stat.S_ISREG(info.st_mode):
            read_flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            try:
                src = os.open(entry, read_flags, dir_fd=source_fd)
            except OSError:
                continue  # gone or replaced since it was listed
            with _opened(src):
                # It may have turned into a fifo or a device since it was listed.
                if not stat.S_ISREG(os.fstat(src).st_mode):
                    continue
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                dst = os.open(entry, flags, stat.S_IMODE(info.st_mode), dir_fd=target_fd)
                with _opened(dst):
                    copied += _copy_data(src, dst, budget)
    return copied


def _copy_data(src: int, dst: int, budget: CopyBudget | None) -> int:
    """Copy a regular file's data segments at their offsets; the holes between stay holes."""
    size = os.fstat(src).st_size
    copied = offset = 0
    while offset < size:
        try:
            start = os.lseek(src, offset, os.SEEK_DATA)
            end = min(os.lseek(src, start, os.SEEK_HOLE), size)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                break  # only a hole is left
            if exc.errno != errno.EINVAL:
                raise
            start, end = offset, size  # no hole support: all of it is data
        while start < end:
            chunk = os.pread(src, min(end - start, 1 << 20), start)
            if not chunk:
                break
            if budget is not None:
                budget.take(data_bytes=len(chunk))
            os.pwrite(dst, chunk, start)
            start += len(chunk)
            copied += len(chunk)
        if start < end:
            break  # it shrank while copied
        offset = end
    os.ftruncate(dst, size)  # a trailing hole
    return copied
