"""Offline licensing: ``.authforge`` files, offline activation and activation requests.

Loaded only by programs that use files: a program licensed online never
imports it. Verification itself is the protocol layer's
(``_protocol.verify_license_file``); this module reads input safely, turns a
verdict into ``AuthForgeError`` for the engine's callers, and writes files
atomically (a refused or failed activation never touches an existing file).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .._base._files import PathArg, read_limited, write_atomic
from .._exceptions import AuthForgeError
from .._protocol import (
    OFFLINE_ACTIVATE_PATH,
    failure_from_body,
    format_activation_request,
    is_success_status,
    iso_utc,
    new_nonce,
    offline_activate_body,
    os_label,
    verify_license_file,
)
from .._protocol._activation import SDK_TAG
from .._protocol._license_file import BEGIN_LICENSE

if TYPE_CHECKING:
    from ._engine import Engine

MAX_LICENSE_FILE_BYTES = 1024 * 1024


def read_license_input(path_or_text: Any) -> str:
    """The armored text of a license given as a path or as the text itself, or
    ``AuthForgeError`` (``read_error``, ``bad_armor`` for an oversized file)."""
    if isinstance(path_or_text, str) and BEGIN_LICENSE in path_or_text:
        return path_or_text
    if not isinstance(path_or_text, (str, os.PathLike)) or not os.fspath(path_or_text):
        raise AuthForgeError("read_error", "read_error: expected a path or the armored text")
    try:
        data = read_limited(path_or_text, MAX_LICENSE_FILE_BYTES)
    except OSError as exc:
        raise AuthForgeError("read_error", f"read_error: {exc.strerror}") from exc
    if data is None:
        raise AuthForgeError("bad_armor", "bad_armor: file too large to be a license")
    return data.decode("utf-8", errors="replace")


def check_file(engine: Engine, path_or_text: Any, hwid: str, *, now: Any = None) -> dict[str, Any]:
    """The verifier's verdict dict for a file (never raises for bad input)."""
    try:
        text = read_license_input(path_or_text)
    except AuthForgeError as exc:
        return {"ok": False, "error": str(exc)}
    return verify_license_file(text, engine.app_id, engine.trust, hwid, now=now)


def accept_file(engine: Engine, path_or_text: Any, hwid: str) -> dict[str, Any]:
    """A verified file's verdict (``ok`` True), or ``AuthForgeError`` with the verdict code."""
    text = read_license_input(path_or_text)
    result = verify_license_file(text, engine.app_id, engine.trust, hwid)
    if not result["ok"]:
        raise AuthForgeError(result["error"], f"offline license refused: {result['error']}")
    return result


def activate(
    engine: Engine, license_key: str, hwid: str, path: PathArg | None
) -> tuple[dict[str, Any], bool]:
    """Exchange ``license_key`` for a lifetime offline file bound to ``hwid``; verify it,
    then write it atomically to ``path``. Returns ``(verdict, replay)``."""
    engine.require_secret()
    body = offline_activate_body(
        app_id=engine.app_id,
        app_secret=engine.app_secret,
        license_key=license_key,
        hwid=hwid,
        nonce=new_nonce(),
    )
    reply = engine.transport.post(OFFLINE_ACTIVATE_PATH, body)
    if not is_success_status(reply.data.get("status")):
        raise failure_from_body(reply.data)
    text = reply.data.get("file")
    if not isinstance(text, str) or not text:
        raise AuthForgeError("unexpected_response", "unexpected_response: no file in answer")
    result = verify_license_file(text, engine.app_id, engine.trust, hwid)
    if not result["ok"]:
        # The reason stays in the message: the server's own hwid_mismatch
        # ("no free seat") must remain distinguishable from ours.
        raise AuthForgeError("offline_file_rejected", f"offline_file_rejected: {result['error']}")
    if path is not None:
        try:
            write_atomic(path, text.encode("utf-8"))
        except OSError as exc:
            raise AuthForgeError("file_write_failed", f"file_write_failed: {exc.strerror}") from exc
    return result, reply.data.get("replay") is True


def activation_request(
    engine: Engine,
    hwid: str,
    *,
    include_machine_name: bool,
    machine_name: str | None,
    os_name: str | None,
    omit_os: bool,
    sdk: str | None,
    omit_sdk: bool,
    license_key: str | None,
    created_at: str | None,
) -> str:
    """An activation request for this machine (no network, no secret). The hostname is
    included only when asked: it is often a person's name."""
    import time

    name = None
    if include_machine_name:
        import platform
        import socket

        name = machine_name or platform.node() or socket.gethostname()
    return format_activation_request(
        app_id=engine.app_id,
        hwid=hwid,
        created_at=created_at or iso_utc(time.time()),
        machine_name=name,
        os=None if omit_os else (os_name if os_name is not None else os_label()),
        sdk=None if omit_sdk else (sdk if sdk is not None else SDK_TAG),
        license_key=license_key,
    )
