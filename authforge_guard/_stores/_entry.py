"""What a session store keeps, and the one place an entry is judged before it is believed.

An entry is the signed answer exactly as the server sent it (base64 payload,
signature, ``keyId``) plus a few fields for people and for the store: the app,
a hash of the license key, the HWID and the *high-water mark* (``seen``). No
app secret and no plain license key is written (the key is inside the signed
payload's token, as the server issued it, and nowhere else).

Every store, the file cache and Redis alike, calls ``verify_entry``: the
signature under the trust list, then the token names this app, this HWID and
this license key, then enough signed lifetime left, then the clock. So an
entry edited by hand, copied from another machine, re-signed with another key,
expired, or written straight into a shared Redis by someone else is refused:
a store can deny service but never grant a license or raise a tier.

The high-water mark is the latest wall-clock time known to have passed for
the entry: the signed server time of the answer and the local time of every
save and of every load, whatever the load decided (a start 25 h ahead that
found the entry expired still moves the mark). A load at a local time earlier
than the mark (beyond a small skew) means the clock was set back to stretch a
cached session: refused as ``clock_rollback``, so the caller logs in online
and sees a revocation. The mark itself is not signed: it stops a clock turned
back, not a user who also edits the entry (the signed server time still
bounds what an edit can gain).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from .._base._clock import server_time
from .._exceptions import AuthForgeError
from .._protocol import SignedSession, TrustList, iso_utc, verify_signed_payload

FORMAT = "authforge-guard-session/2"
# A session with less than this left is not resumed: the program would lose it
# (session_expired) moments after starting. A fresh login gives a full TTL.
MIN_REMAINING_SECONDS = 300.0
# How far the local clock may be behind a time already seen (the server's
# clock, or this entry's last use) before it counts as set back: NTP steps and
# an unsynchronised machine stay well inside it.
MAX_CLOCK_SKEW_SECONDS = 300.0
# A load moves the mark forward only when it has advanced this much: one write
# per minute of use at most, and rollbacks shorter than this do not matter.
MARK_STEP_SECONDS = 60.0

NO_ENTRY = "no cached session"
CLOCK_ROLLBACK = "clock_rollback"


class Found(NamedTuple):
    """What a store's ``load`` found: a verified session, or why there is none."""

    session: SignedSession | None
    reason: str = ""

    @property
    def missing(self) -> bool:
        """True when there was simply no entry (nothing worth reporting)."""
        return self.reason == NO_ENTRY

    @property
    def clock_rolled_back(self) -> bool:
        """True when the entry was refused because the local clock is behind it."""
        return self.reason.startswith(CLOCK_ROLLBACK)


MISSING = Found(None, NO_ENTRY)


def key_hash(license_key: str) -> str:
    """How a license key names its entries: SHA-256, hex (never the key itself)."""
    return hashlib.sha256(license_key.encode("utf-8")).hexdigest()


def hwid_hash(hwid: str) -> str:
    """A short hash of the HWID for entry names (a ``tg:<user id>`` is personal data)."""
    return hashlib.sha256(hwid.encode("utf-8")).hexdigest()[:16]


def high_water(signed: SignedSession, now: float) -> float:
    """The latest time known to have passed when ``signed`` is stored at ``now``."""
    issued = server_time(signed.payload.get("timestamp"))
    return max(now, issued) if issued is not None and math.isfinite(issued) else now


def entry_for(
    signed: SignedSession, *, app_id: str, license_key: str, hwid: str, now: float
) -> dict[str, Any]:
    """The entry a store writes for ``signed`` (JSON-ready)."""
    return {
        "format": FORMAT,
        "app": app_id,
        "keyHash": key_hash(license_key),
        "hwid": hwid,
        "storedAt": iso_utc(now),  # for people; never read back
        "seen": high_water(signed, now),
        "keyId": signed.key_id,
        "payload": signed.payload_b64,
        "signature": signed.signature,
    }


def mark_of(value: Any) -> float | None:
    """A stored high-water mark as a finite number, else ``None`` (absent or garbage)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (bytes, str)):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def verify_entry(
    entry: Any,
    *,
    app_id: str,
    license_key: str,
    hwid: str,
    trust: TrustList,
    now: float,
    seen: Any = None,
) -> Found:
    """The session in ``entry`` if it is genuine, ours, alive and not from the future.

    ``seen`` is the high-water mark when the store keeps it beside the entry
    (Redis); by default it is the entry's own ``seen`` field (files).
    Checks, in order: our format, signature under ``trust``, the token names
    this app, ``hwid`` and ``license_key``, lifetime left, the clock.
    """
    if not isinstance(entry, Mapping) or entry.get("format") != FORMAT:
        return Found(None, "unknown format")
    try:
        signed = verify_signed_payload(
            entry.get("payload"),
            entry.get("signature"),
            entry.get("keyId"),
            trust=trust,
            expected_nonce=None,  # an old answer: its nonce is by nature an old one
        )
    except AuthForgeError as exc:
        return Found(None, f"not validly signed ({exc.code})")
    reason = (
        _foreign(signed, app_id, license_key, hwid)
        or _stale(signed, now)
        or _rolled_back(signed, now, mark_of(entry.get("seen") if seen is None else seen))
    )
    return Found(None, reason) if reason else Found(signed)


def _same(value: Any, expected: str) -> bool:
    return isinstance(value, str) and hmac.compare_digest(
        value.encode("utf-8"), expected.encode("utf-8")
    )


def _foreign(signed: SignedSession, app_id: str, license_key: str, hwid: str) -> str:
    body = signed.token_body
    if not body:
        return "session token unreadable"
    if not _same(body.get("appId"), app_id):
        return "issued to another app"
    if not _same(body.get("hwid"), hwid):
        return "issued to another machine"
    if not _same(body.get("licenseKey"), license_key):
        return "issued for another license key"
    return ""


def _stale(signed: SignedSession, now: float) -> str:
    left = signed.expires_at - now
    if left <= 0:
        return "expired"
    if left < MIN_REMAINING_SECONDS:
        return f"ends in {left:.0f} s, too soon to resume"
    return ""


def _rolled_back(signed: SignedSession, now: float, seen: float | None) -> str:
    issued = server_time(signed.payload.get("timestamp"))
    if issued is not None and issued - now > MAX_CLOCK_SKEW_SECONDS:
        return f"{CLOCK_ROLLBACK}: issued in the future (is the local clock set back?)"
    if seen is not None and seen - now > MAX_CLOCK_SKEW_SECONDS:
        return (
            f"{CLOCK_ROLLBACK}: the local clock is {seen - now:.0f} s behind "
            "this entry's last use (set back?)"
        )
    return ""


# How long a tombstone (a definitive loss seen by one instance) refuses entries
# signed before it, and is kept: longer than any store's delay in deleting them.
TOMBSTONE_SECONDS = 300.0


def token_hash(signed: SignedSession) -> str:
    """How a tombstone names the session it ended (never the token itself)."""
    return hashlib.sha256(signed.session_token.encode("utf-8")).hexdigest()[:32]


def tombstone_record(
    license_key: str, hwid: str, code: str, *, now: float, owner: str, ended: Any
) -> dict[str, Any]:
    """What a tombstone says (JSON-ready); ``ended`` is the entry it deletes, if any."""
    record: dict[str, Any] = {
        "keyHash": key_hash(license_key),
        "hwid": hwid,
        "code": code,
        "at": now,
        "from": owner,
    }
    payload = ended.get("payload") if isinstance(ended, Mapping) else None
    if isinstance(payload, str):
        from .._protocol import decode_payload

        try:
            token = decode_payload(payload).get("sessionToken")
        except AuthForgeError:
            token = None
        if isinstance(token, str):
            record["token"] = hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]
    return record


def ended_by(tombstone: Mapping[str, Any], signed: SignedSession, now: float) -> str:
    """Why ``tombstone`` refuses ``signed``, or ``""``.

    Refused: the very session the tombstone ended (a slow replica writing its
    copy back), or any answer signed a full second before the loss (server
    times are whole seconds). A login after the loss (the license restored)
    is a new session and passes.
    """
    at = mark_of(tombstone.get("at"))
    if at is None or now - at > TOMBSTONE_SECONDS:
        return ""
    issued = server_time(signed.payload.get("timestamp"))
    same = tombstone.get("token") == token_hash(signed)
    if not same and issued is not None and issued >= at - 1.0:
        return ""
    code = tombstone.get("code")
    return f"ended elsewhere ({code if isinstance(code, str) else 'lost'})"
