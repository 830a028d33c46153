"""Crash-safe file writes: readers see the old file or the new one, never a torn one."""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import Union

PathArg = Union[str, "os.PathLike[str]"]


def write_atomic(path: PathArg, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory, fsync, rename.

    ``mode`` (e.g. ``0o600``) is applied to the temp file before any byte is
    written, so a secret is never readable by others even for a moment. On
    any failure ``path`` is left exactly as it was.
    """
    target = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    temp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, 0o600 if mode is not None else 0o666)
    try:
        if mode is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    # The rename is durable only once the directory entry is on disk (POSIX).
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_limited(path: PathArg, limit: int) -> bytes | None:
    """Up to ``limit`` bytes of ``path``; ``None`` when the file is larger than that."""
    with open(os.fspath(path), "rb") as handle:
        data = handle.read(limit + 1)
    return data if len(data) <= limit else None
