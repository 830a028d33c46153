"""The stored license key: what a customer typed once with ``activate``, kept for every later run.

One small file per app in the user's configuration directory, readable by its
owner only (0600, in a 0700 directory), written atomically. A Guard with no
license key and no license file configured uses it; the environment
(``AUTHFORGE_LICENSE_KEY``) and the vendor's code still win over it.

Locations: ``$XDG_CONFIG_HOME/authforge/<app>/license-key`` (else
``~/.config/...``) on Linux and other Unixes; ``~/Library/Application
Support/authforge/<app>/license-key`` on macOS; ``%APPDATA%\\authforge\\<app>\\
license-key`` on Windows.

Only the file: ``activate``/``deactivate``, which log in on a guard, are in
``_activate`` (above the guard; a login reads the stored key from here).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Mapping

from .._base._files import read_limited, user_directory, write_atomic
from .._exceptions import ConfigurationError

logger = logging.getLogger("authforge_guard")

FILE_NAME = "license-key"
MAX_KEY_BYTES = 4096
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def key_path(app_id: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Where the key for ``app_id`` is stored on this machine (``None``: no home directory)."""
    root = user_directory("config", environ)
    if root is None:
        return None
    if _SAFE_NAME.fullmatch(app_id) and app_id not in (".", ".."):
        component = app_id
    else:
        component = "app-" + hashlib.sha256(app_id.encode("utf-8")).hexdigest()[:32]
    return os.path.join(root, "authforge", component, FILE_NAME)


def load_key(app_id: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The stored key for ``app_id``, or ``None`` (no file, unreadable, or not a key)."""
    path = key_path(app_id, environ)
    if path is None:
        return None
    try:
        data = read_limited(path, MAX_KEY_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        logger.warning("authforge_guard: cannot read the stored license key: %s", exc.strerror)
        return None
    try:
        text = data.decode("utf-8").strip() if data is not None else ""
    except UnicodeDecodeError:
        text = ""
    if not text or any(ch.isspace() for ch in text):
        logger.warning("authforge_guard: the stored license key file is not a key; ignoring it")
        return None
    return text


def store_key(app_id: str, license_key: str, environ: Mapping[str, str] | None = None) -> str:
    """Save ``license_key`` for ``app_id`` (0600, atomically); returns the file's path."""
    key = license_key.strip() if isinstance(license_key, str) else ""
    if not key or any(ch.isspace() for ch in key) or len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError("a license key is one word of text")
    path = key_path(app_id, environ)
    if path is None:
        raise ConfigurationError("cannot store the license key: this user has no home directory")
    _make_private_dirs(os.path.dirname(path))
    write_atomic(path, (key + "\n").encode("utf-8"), mode=0o600)
    return path


def forget_key(app_id: str, environ: Mapping[str, str] | None = None) -> bool:
    """Delete the stored key for ``app_id``; True if there was one."""
    path = key_path(app_id, environ)
    if path is None:
        return False
    try:
        os.remove(path)
    except FileNotFoundError:
        return False
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(path))  # only if empty
    return True


def _make_private_dirs(directory: str) -> None:
    os.makedirs(os.path.dirname(directory), exist_ok=True)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        return
    os.chmod(directory, 0o700)  # mkdir's mode went through the umask
