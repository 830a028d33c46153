"""Request bodies of the four AuthForge endpoints, exactly as the wire protocol names them.

Each builder takes the nonce explicitly: the transport sends a fresh one on
every retry, and the caller keeps the one it must find echoed.
"""

from __future__ import annotations

from typing import Any

VALIDATE_PATH = "/auth/validate"
HEARTBEAT_PATH = "/auth/heartbeat"
SELFBAN_PATH = "/auth/selfban"
OFFLINE_ACTIVATE_PATH = "/auth/offline/activate"

TTL_MIN_SECONDS = 3600
TTL_MAX_SECONDS = 604800
TTL_DEFAULT_SECONDS = 86400


def validate_body(
    *,
    app_id: str,
    app_secret: str,
    license_key: str,
    hwid: str,
    nonce: str,
    ttl_seconds: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "appId": app_id,
        "appSecret": app_secret,
        "licenseKey": license_key,
        "hwid": hwid,
        "nonce": nonce,
    }
    if ttl_seconds is not None:
        body["ttlSeconds"] = ttl_seconds
    return body


def heartbeat_body(*, app_id: str, session_token: str, hwid: str, nonce: str) -> dict[str, Any]:
    return {"appId": app_id, "sessionToken": session_token, "nonce": nonce, "hwid": hwid}


def selfban_session_body(
    *,
    app_id: str,
    session_token: str,
    hwid: str,
    revoke_license: bool,
    blacklist_hwid: bool,
    blacklist_ip: bool,
) -> dict[str, Any]:
    return {
        "appId": app_id,
        "sessionToken": session_token,
        "hwid": hwid,
        "revokeLicense": bool(revoke_license),
        "blacklistHwid": bool(blacklist_hwid),
        "blacklistIp": bool(blacklist_ip),
    }


def selfban_presession_body(
    *,
    app_id: str,
    app_secret: str,
    license_key: str,
    hwid: str,
    nonce: str,
    blacklist_hwid: bool,
    blacklist_ip: bool,
) -> dict[str, Any]:
    # Without a session the server cannot revoke: revokeLicense is always false.
    return {
        "appId": app_id,
        "appSecret": app_secret,
        "licenseKey": license_key,
        "hwid": hwid,
        "nonce": nonce,
        "revokeLicense": False,
        "blacklistHwid": bool(blacklist_hwid),
        "blacklistIp": bool(blacklist_ip),
    }


def offline_activate_body(
    *, app_id: str, app_secret: str, license_key: str, hwid: str, nonce: str
) -> dict[str, Any]:
    return {
        "appId": app_id,
        "appSecret": app_secret,
        "licenseKey": license_key,
        "hwid": hwid,
        "nonce": nonce,
    }


def clamp_ttl(requested: Any) -> int:
    """The session lifetime the server grants for a requested ``ttlSeconds``."""
    if isinstance(requested, bool) or not isinstance(requested, (int, float)):
        return TTL_DEFAULT_SECONDS
    if requested != requested:  # NaN
        return TTL_DEFAULT_SECONDS
    return int(min(max(requested, TTL_MIN_SECONDS), TTL_MAX_SECONDS))
