"""Files: crash-safe writes (readers see the old file or the new one, never a torn one),
bounded reads, and where a user's per-app cache and configuration live."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Mapping
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


# kind -> (Windows variable, Windows fallback under home, macOS folder, XDG variable, XDG default)
_USER_DIRECTORIES = {
    "cache": (
        "LOCALAPPDATA",
        ("AppData", "Local"),
        ("Library", "Caches"),
        "XDG_CACHE_HOME",
        ".cache",
    ),
    "config": (
        "APPDATA",
        ("AppData", "Roaming"),
        ("Library", "Application Support"),
        "XDG_CONFIG_HOME",
        ".config",
    ),
}


def user_directory(
    kind: str, environ: Mapping[str, str] | None = None, platform: str = sys.platform
) -> str | None:
    """This user's ``"cache"`` or ``"config"`` directory on this platform, or ``None``.

    Linux and other Unixes: ``$XDG_CACHE_HOME`` / ``$XDG_CONFIG_HOME`` (only if
    absolute, as the XDG spec says) else ``~/.cache`` / ``~/.config``; macOS:
    ``~/Library/Caches`` / ``~/Library/Application Support``; Windows:
    ``%LOCALAPPDATA%`` / ``%APPDATA%``.
    """
    windows_var, windows_home, darwin, xdg_var, xdg_default = _USER_DIRECTORIES[kind]
    env = os.environ if environ is None else environ
    if platform.startswith("win"):
        return env.get(windows_var, "").strip() or _under_home(*windows_home)
    if platform == "darwin":
        return _under_home(*darwin)
    xdg = env.get(xdg_var, "").strip()
    if xdg and os.path.isabs(xdg):
        return xdg
    return _under_home(xdg_default)


def _under_home(*parts: str) -> str | None:
    home = os.path.expanduser("~")
    if home == "~" or not os.path.isabs(home):
        return None
    return os.path.join(home, *parts)
