"""Binding a signed answer to the request it answers: app, license key, HWID, lifetime.

The signature says the server wrote an answer, and the echoed nonce says it
answered *this* request; neither says the server saw the request as it was
sent. Whoever relays the traffic (the end user's own proxy, trusted with the
end user's own CA) can rewrite the body and keep the nonce: send another
machine's ``hwid`` so one seat serves any number of machines, or
``ttlSeconds: 604800`` so a 24 h session lasts a week. The server then signs
what it was asked. So before an answer is believed, the claims the server
signed into the session token must be what this client asked for:

- ``appId``, ``licenseKey`` and ``hwid`` equal the ones sent;
- the signed end is no later than the lifetime asked for allows: for a login,
  the server's own signed time of the answer plus the (clamped) ``ttlSeconds``
  sent plus ``MAX_CLOCK_SKEW_SECONDS``; for a heartbeat, the end of the
  session it refreshes (the server keeps a session's end; it never extends it).

A mismatch is ``session_mismatch``, a definitive code: the answer is not one
this program may run on, and asking again through the same relay gives the
same answer.
"""

from __future__ import annotations

import hmac
import math
import time
from typing import Any, NamedTuple

from .._exceptions import AuthForgeError
from ._encoding import server_time
from ._requests import clamp_ttl

SESSION_MISMATCH = "session_mismatch"
# How far the server's idea of a session's end may pass the lifetime asked for: the
# server's clock and ours disagree a little, and whole seconds are rounded.
MAX_CLOCK_SKEW_SECONDS = 300.0


class Asked(NamedTuple):
    """What a validate or heartbeat request asked for, to compare its answer with.

    ``ttl_seconds``: a login's requested lifetime (as sent; the server clamps it).
    ``ends_by``: a heartbeat's session end so far (epoch seconds), which a refreshed
    answer may not pass. ``sent_at``: the local time the request went out, the
    reference when an answer carries no server time of its own.
    """

    app_id: str
    license_key: str
    hwid: str
    ttl_seconds: int | None = None
    ends_by: float | None = None
    sent_at: float | None = None


def for_validate(*, app_id: str, license_key: str, hwid: str, ttl_seconds: int | None) -> Asked:
    return Asked(app_id, license_key, hwid, ttl_seconds=ttl_seconds, sent_at=time.time())


def for_heartbeat(*, app_id: str, hwid: str, token_claims: Any, ends_by: float) -> Asked:
    """A heartbeat asks for the session it refreshes: the license key is the one that
    session's token (already bound at login) names."""
    key = token_claims.get("licenseKey") if isinstance(token_claims, dict) else None
    return Asked(app_id, key if isinstance(key, str) else "", hwid, ends_by=ends_by)


def check_binding(claims: Any, expires_at: float, payload: Any, asked: Asked) -> None:
    """Raise ``session_mismatch`` unless the signed ``claims`` and end fit ``asked``.

    ``claims`` is the session token's body, ``expires_at`` the session end read
    from the answer, ``payload`` the signed payload (for its ``timestamp``). The
    message names what differed, never a value (a key, a HWID, a token).
    """
    if not isinstance(claims, dict) or not claims:
        raise _mismatch("the session token's claims cannot be read")
    for claim, wanted in (
        ("appId", asked.app_id),
        ("licenseKey", asked.license_key),
        ("hwid", asked.hwid),
    ):
        if not wanted or not _same(claims.get(claim), wanted):
            raise _mismatch(f"the signed {claim} is not the one sent")
    latest = _latest_end(payload, claims, asked)
    if latest is not None and not expires_at <= latest:
        raise _mismatch("the signed session ends later than the lifetime asked for")


def _latest_end(payload: Any, claims: dict[str, Any], asked: Asked) -> float | None:
    if asked.ends_by is not None:
        return asked.ends_by
    if asked.ttl_seconds is None:
        return None
    issued = server_time(payload.get("timestamp")) if isinstance(payload, dict) else None
    if issued is None or not math.isfinite(issued):
        issued = server_time(claims.get("iat"))
    if issued is None or not math.isfinite(issued):
        issued = asked.sent_at if asked.sent_at is not None else time.time()
    return issued + clamp_ttl(asked.ttl_seconds) + MAX_CLOCK_SKEW_SECONDS


def _same(value: Any, expected: str) -> bool:
    return isinstance(value, str) and hmac.compare_digest(
        value.encode("utf-8"), expected.encode("utf-8")
    )


def _mismatch(what: str) -> AuthForgeError:
    return AuthForgeError(SESSION_MISMATCH, f"{SESSION_MISMATCH}: {what} (rewritten on the way?)")
