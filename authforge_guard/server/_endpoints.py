"""What each AuthForge endpoint decides: the checks, in order, and what a success says.

Every method takes the decoded JSON body and the caller's IP and returns the
success body, or raises ``Refusal`` with the verdict code. Nothing here knows
about HTTP. Each request is one database transaction: a refusal after the
nonce was spent keeps the nonce (a replay stays a replay) and undoes the rest.
"""

from __future__ import annotations

import logging
import math
import secrets
import sqlite3
import uuid
from collections.abc import Mapping
from typing import Any, Callable

from .._protocol import (
    HEARTBEAT_PATH,
    OFFLINE_ACTIVATE_PATH,
    SELFBAN_PATH,
    VALIDATE_PATH,
    clamp_ttl,
    encode_token,
    iso_utc,
    mask_key,
    signed_response,
    verify_token,
)
from ._mint import mint_license_file
from ._nonces import NonceMemory
from ._ratelimit import SlidingWindowLimiter
from ._store import (
    AppRecord,
    LicenseRecord,
    Store,
    active_signing_key,
    add_to_blacklist,
    claim_hwid,
    get_app,
    get_license,
    hwid_count,
    is_blocked,
    savepoint,
    set_revoked,
    spend_credits,
)

logger = logging.getLogger("authforge_guard.server")

VALIDATE_COST = 1
HEARTBEATS_PER_CREDIT = 10
OFFLINE_ACTIVATION_COST = 2

# Longest accepted value per request field; longer is a bad request, not a lookup.
_MAX_FIELD_LENGTH = {
    "appId": 128,
    "appSecret": 256,
    "licenseKey": 128,
    "hwid": 256,
    "nonce": 128,
    "sessionToken": 4096,
}

Body = Mapping[str, Any]
Endpoint = Callable[[Body, str], dict[str, Any]]


class Refusal(Exception):
    """An AuthForge verdict ``{"status": "failed", "error": code}``."""

    def __init__(self, code: str, *, retry_after: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after


class Endpoints:
    """The four endpoints over one store, one heartbeat limiter and one clock."""

    def __init__(
        self,
        store: Store,
        limiter: SlidingWindowLimiter,
        clock: Callable[[], float],
        nonces: NonceMemory | None = None,
    ) -> None:
        self._store = store
        self._nonces = nonces if nonces is not None else NonceMemory()
        self._limiter = limiter
        self._clock = clock
        self._routes: dict[str, Endpoint] = {
            VALIDATE_PATH: self.validate,
            HEARTBEAT_PATH: self.heartbeat,
            SELFBAN_PATH: self.selfban,
            OFFLINE_ACTIVATE_PATH: self.offline_activate,
        }

    def route(self, path: str) -> Endpoint | None:
        """The endpoint at exactly ``path`` (no normalising: another spelling is no endpoint)."""
        return self._routes.get(path)

    def _spend_nonce(self, conn: sqlite3.Connection, app_id: str, nonce: str, now: float) -> None:
        if not self._nonces.spend(conn, app_id, nonce, now):
            raise Refusal("replay_detected")

    def validate(self, body: Body, client_ip: str) -> dict[str, Any]:
        """Log in: check app, nonce, machine and license, bind the HWID, charge, sign."""
        app_id, app_secret, key, hwid, nonce = _texts(
            body, "appId", "appSecret", "licenseKey", "hwid", "nonce"
        )
        ttl = _ttl_seconds(body)
        now = self._clock()
        with self._store.transaction(keep_on=(Refusal,)) as conn:
            app = _authenticated_app(conn, app_id, app_secret)
            self._spend_nonce(conn, app.id, nonce, now)
            with savepoint(conn):
                lic = _usable_license(conn, app, key, hwid, client_ip, now)
                if not claim_hwid(conn, lic, hwid, now):
                    raise Refusal("hwid_mismatch")
                if not spend_credits(conn, app.id, lic.key, VALIDATE_COST):
                    raise Refusal("no_credits")
                conn.execute(
                    "UPDATE licenses SET validates = validates + 1 WHERE key = ?", (lic.key,)
                )
                session_end = int(now) + ttl
                if lic.expires_at is not None:  # a session never outlives its license
                    session_end = min(session_end, int(lic.expires_at))
                machines = hwid_count(conn, lic.key)
                signing_key = active_signing_key(conn, app.id)
        claims = {
            "sid": uuid.uuid4().hex,
            "jti": secrets.token_hex(8),
            "appId": app.id,
            "licenseKey": lic.key,
            "hwid": hwid,
            "iat": int(now),
            "exp": session_end,
        }
        logger.debug("validate ok: license %s, session until %d", lic.masked_key, session_end)
        payload = _session_payload(app, lic, claims, nonce=nonce, machines=machines, now=now)
        return signed_response(payload, signing_key)

    def heartbeat(self, body: Body, client_ip: str) -> dict[str, Any]:
        """Refresh a session: a new token with the same end, current variables, rate limited."""
        app_id, token, nonce, hwid = _texts(body, "appId", "sessionToken", "nonce", "hwid")
        now = self._clock()
        with self._store.transaction(keep_on=(Refusal,)) as conn:
            app = _session_app(conn, app_id)
            claims = _session_claims(app, token, now)
            self._spend_nonce(conn, app.id, nonce, now)
            with savepoint(conn):
                if hwid != claims["hwid"]:
                    raise Refusal("hwid_mismatch")
                lic = _usable_license(conn, app, claims["licenseKey"], hwid, client_ip, now)
                wait = self._limiter.admit(f"{app.id}\n{lic.key}")
                if wait is not None:
                    raise Refusal("rate_limited", retry_after=wait)
                # A reset of the license's HWIDs lets a live session take its slot back.
                if not claim_hwid(conn, lic, hwid, now):
                    raise Refusal("hwid_mismatch")
                beats = lic.heartbeats + 1
                if beats % HEARTBEATS_PER_CREDIT == 0 and not spend_credits(
                    conn, app.id, lic.key, 1
                ):
                    raise Refusal("no_credits")
                conn.execute("UPDATE licenses SET heartbeats = ? WHERE key = ?", (beats, lic.key))
                machines = hwid_count(conn, lic.key)
                signing_key = active_signing_key(conn, app.id)
        # A new token (jti, iat) for the same session: same sid, same exp, never longer.
        refreshed = dict(claims, jti=secrets.token_hex(8), iat=int(now))
        logger.debug("heartbeat ok: license %s", lic.masked_key)
        payload = _session_payload(app, lic, refreshed, nonce=nonce, machines=machines, now=now)
        return signed_response(payload, signing_key)

    def selfban(self, body: Body, client_ip: str) -> dict[str, Any]:
        """A client reports tampering: blacklist its HWID/IP, and with a session, revoke."""
        token = body.get("sessionToken")
        if token is not None and token != "":
            return self._selfban_session(body, client_ip)
        revoke, ban_hwid, ban_ip = _flags(body, "revokeLicense", "blacklistHwid", "blacklistIp")
        if revoke:
            raise Refusal("revoke_requires_session")
        app_id, app_secret, key, hwid, nonce = _texts(
            body, "appId", "appSecret", "licenseKey", "hwid", "nonce"
        )
        now = self._clock()
        with self._store.transaction(keep_on=(Refusal,)) as conn:
            app = _authenticated_app(conn, app_id, app_secret)
            self._spend_nonce(conn, app.id, nonce, now)
            lic = get_license(conn, key, app.id)
            if lic is None:
                raise Refusal("invalid_key")
            _blacklist(conn, app.id, hwid if ban_hwid else None, client_ip if ban_ip else None, now)
        logger.info("pre-session self-ban: license %s", lic.masked_key)
        return {"status": "ok"}

    def _selfban_session(self, body: Body, client_ip: str) -> dict[str, Any]:
        app_id, token, hwid = _texts(body, "appId", "sessionToken", "hwid")
        revoke, ban_hwid, ban_ip = _flags(body, "revokeLicense", "blacklistHwid", "blacklistIp")
        nonce = body.get("nonce")  # not part of this mode; spent if a client sends one
        if nonce is not None:
            (nonce,) = _texts(body, "nonce")
        now = self._clock()
        with self._store.transaction(keep_on=(Refusal,)) as conn:
            app = _session_app(conn, app_id)
            claims = _session_claims(app, token, now)
            if nonce is not None:
                self._spend_nonce(conn, app.id, nonce, now)
            if hwid != claims["hwid"]:
                raise Refusal("hwid_mismatch")
            lic = get_license(conn, claims["licenseKey"], app.id)
            if lic is None:
                raise Refusal("invalid_key")
            if revoke:
                set_revoked(conn, lic.key, True)
            _blacklist(conn, app.id, hwid if ban_hwid else None, client_ip if ban_ip else None, now)
        logger.info("session self-ban: license %s (revoked: %s)", lic.masked_key, revoke)
        return {"status": "ok"}

    def offline_activate(self, body: Body, client_ip: str) -> dict[str, Any]:
        """Self-serve offline activation: one lifetime file per machine, at most ``slots``."""
        app_id, app_secret, key, hwid, nonce = _texts(
            body, "appId", "appSecret", "licenseKey", "hwid", "nonce"
        )
        now = self._clock()
        with self._store.transaction(keep_on=(Refusal,)) as conn:
            app = _authenticated_app(conn, app_id, app_secret)
            if not app.offline_activation:
                raise Refusal("offline_activation_disabled")
            self._spend_nonce(conn, app.id, nonce, now)
            with savepoint(conn):
                lic = _usable_license(conn, app, key, hwid, client_ip, now)
                if lic.expires_at is not None:
                    raise Refusal("offline_activation_requires_perpetual")
                if lic.slots is None:
                    raise Refusal("offline_activation_requires_seats")
                row = conn.execute(
                    "SELECT file FROM offline_activations WHERE license_key = ? AND hwid = ?",
                    (lic.key, hwid),
                ).fetchone()
                if row is not None:  # the same machine again: the same bytes, free
                    return {"status": "ok", "file": row[0], "replay": True}
                (activated,) = conn.execute(
                    "SELECT COUNT(*) FROM offline_activations WHERE license_key = ?", (lic.key,)
                ).fetchone()
                if activated >= lic.slots:
                    raise Refusal("offline_activation_limit_reached")
                if not spend_credits(conn, app.id, lic.key, OFFLINE_ACTIVATION_COST):
                    raise Refusal("no_credits")
                text = mint_license_file(
                    conn, app, lic, hwids=[hwid], expires_at=None, label=lic.label, now=now
                )
                conn.execute(
                    "INSERT INTO offline_activations (license_key, hwid, file, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (lic.key, hwid, text, now),
                )
        logger.info("offline activation: license %s, machine %d", lic.masked_key, activated + 1)
        return {"status": "ok", "file": text, "replay": False}


# --- request fields ---------------------------------------------------------


def _texts(body: Body, *names: str) -> list[str]:
    """The named fields, each a non-blank string of sane length; ``bad_request`` otherwise."""
    values = []
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_FIELD_LENGTH[name]:
            raise Refusal("bad_request")
        values.append(value)
    return values


def _flags(body: Body, *names: str) -> list[bool]:
    """Optional JSON booleans (absent means false); any other type is a bad request."""
    values = []
    for name in names:
        value = body.get(name, False)
        if not isinstance(value, bool):
            raise Refusal("bad_request")
        values.append(value)
    return values


def _ttl_seconds(body: Body) -> int:
    requested = body.get("ttlSeconds")
    if requested is not None and (
        isinstance(requested, bool) or not isinstance(requested, (int, float))
    ):
        raise Refusal("bad_request")
    if isinstance(requested, float) and not math.isfinite(requested):
        # The HTTP layer refuses NaN and 1e999 in any body; this holds for direct callers.
        raise Refusal("malformed_request")
    return clamp_ttl(requested)


# --- shared checks ----------------------------------------------------------


def _authenticated_app(conn: sqlite3.Connection, app_id: str, app_secret: str) -> AppRecord:
    app = get_app(conn, app_id)
    # Unknown app and wrong secret look alike, and the compare takes constant time.
    if app is None or not secrets.compare_digest(app.secret.encode(), app_secret.encode()):
        raise Refusal("invalid_app")
    if app.disabled:
        raise Refusal("app_disabled")
    return app


def _session_app(conn: sqlite3.Connection, app_id: str) -> AppRecord:
    app = get_app(conn, app_id)
    if app is None:
        raise Refusal("invalid_app")
    if app.disabled:
        raise Refusal("app_disabled")
    return app


def _session_claims(app: AppRecord, token: str, now: float) -> dict[str, Any]:
    """The body of a token this app issued and that has not ended; ``session_expired`` else.

    A forged, foreign, garbled or ended token all get the same answer: to the
    client each means "log in again".
    """
    claims = verify_token(token, app.mac_key)
    if claims is None or claims.get("appId") != app.id:
        raise Refusal("session_expired")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int) or exp <= now:
        raise Refusal("session_expired")
    if not isinstance(claims.get("licenseKey"), str) or not isinstance(claims.get("hwid"), str):
        raise Refusal("session_expired")
    return claims


def _usable_license(
    conn: sqlite3.Connection, app: AppRecord, key: str, hwid: str, client_ip: str, now: float
) -> LicenseRecord:
    """The license if this machine may use it now: not blocked, known, not revoked or expired."""
    if is_blocked(conn, app.id, hwid, client_ip):
        raise Refusal("blocked")
    lic = get_license(conn, key, app.id)
    if lic is None:
        raise Refusal("invalid_key")
    if lic.revoked:
        logger.info("refused revoked license %s", mask_key(key))
        raise Refusal("revoked")
    if lic.expired(now):
        raise Refusal("expired")
    return lic


def _blacklist(
    conn: sqlite3.Connection, app_id: str, hwid: str | None, ip: str | None, now: float
) -> None:
    if hwid is not None:
        add_to_blacklist(conn, app_id, "hwid", hwid, now)
    if ip is not None:
        add_to_blacklist(conn, app_id, "ip", ip, now)


def _session_payload(
    app: AppRecord,
    lic: LicenseRecord,
    claims: Mapping[str, Any],
    *,
    nonce: str,
    machines: int,
    now: float,
) -> dict[str, Any]:
    """The signed session payload (docs/protocol.md); ``maxHwidSlots`` null: unlimited."""
    exp: int = claims["exp"]
    return {
        "sessionToken": encode_token(claims, app.mac_key),
        "timestamp": int(now),
        "expiresIn": exp,
        "nonce": nonce,
        "requestId": "req_" + secrets.token_hex(8),
        "appVariables": app.variables,
        "licenseVariables": lic.variables,
        "sessionExpiresAt": iso_utc(exp),
        "licenseExpiresAt": iso_utc(lic.expires_at) if lic.expires_at is not None else None,
        "maxHwidSlots": lic.slots,
        "hwidCount": machines,
        "licenseLabel": lic.label,
    }
