"""The session engine: the AuthForge calls a session is made of, raising on any failure.

One ``Engine`` per app configuration (id, secret, trust list, one transport
and its connection pool). It is stateless about sessions: the Guard keeps any
number of ``(license key, hwid)`` sessions and the drop-in ``AuthForgeClient``
keeps one, and both ask the engine to validate, heartbeat and re-verify them.
Every answer is judged by ``_protocol.judge_signed_response`` (signature,
nonce, shape, and the binding to its request: app, license key, HWID,
lifetime); a failure is an ``AuthForgeError`` with its code, never a
return value, so the caller decides what a failure means.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, NamedTuple

from .._base._clock import server_time
from .._exceptions import AuthForgeError
from .._protocol import (
    HEARTBEAT_PATH,
    TTL_DEFAULT_SECONDS,
    VALIDATE_PATH,
    SignedSession,
    TrustList,
    failure_from_body,
    for_heartbeat,
    for_validate,
    heartbeat_body,
    is_success_status,
    judge_signed_response,
    new_nonce,
    resolve_hwid,
    validate_body,
)

if TYPE_CHECKING:
    from .._transport._http import Transport
    from .._transport._retry import RetryPolicy


class Answer(NamedTuple):
    """A verified answer and the server's own time of it (``None`` when it gave none)."""

    signed: SignedSession
    issued_at: float | None


class Engine:
    """Validates and heartbeats sessions of one app over one transport (thread-safe)."""

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        trust: TrustList,
        transport: Transport | Callable[[], Transport],
        ttl_seconds: int | None,
    ) -> None:
        """``transport`` is the transport, or a function that builds it at the first
        request: a restart that resumes a cached session sends nothing, and need not
        load the transport (or ``socket``) at all."""
        self.app_id = app_id
        self.app_secret = app_secret
        self.trust = trust
        self._transport: Transport | None = None
        self._build_transport: Callable[[], Transport] | None = None
        if callable(transport):
            self._build_transport = transport
        else:
            self._transport = transport
        # Always asked for explicitly: the answer's signed end is checked against it, and
        # "the server's default" is not something a rewritten request can be held to.
        self.ttl_seconds: int = ttl_seconds if ttl_seconds is not None else TTL_DEFAULT_SECONDS
        self._machine_hwid: str | None = None

    @property
    def transport(self) -> Transport:
        found = self._transport
        if found is None:
            # No lock (a lock held at a fork is never released in the child): two
            # threads racing each build one, and the one not kept has opened nothing.
            assert self._build_transport is not None
            built = self._build_transport()
            if self._transport is None:
                self._transport = built
            found = self._transport
        return found

    def hwid(self, override: str | None = None) -> str:
        """The HWID sent for ``override`` (the machine's when ``None`` or blank).

        The machine's is computed once (twice at worst): it may read files or run a command.
        """
        if isinstance(override, str) and override.strip():
            return override.strip()
        found = self._machine_hwid
        if found is None:
            # No lock: two threads racing compute the same value, and a lock held at a
            # fork would never be released in the child.
            found = self._machine_hwid = resolve_hwid(self.app_id, None)
        return found

    def validate(self, license_key: str, hwid: str) -> Answer:
        """``/auth/validate``: a new session for ``(license_key, hwid)``, or ``AuthForgeError``."""
        body = validate_body(
            app_id=self.app_id,
            app_secret=self.app_secret,
            license_key=license_key,
            hwid=hwid,
            nonce=new_nonce(),
            ttl_seconds=self.ttl_seconds,
        )
        reply = self.transport.post(VALIDATE_PATH, body)
        asked = for_validate(
            app_id=self.app_id, license_key=license_key, hwid=hwid, ttl_seconds=self.ttl_seconds
        )
        signed = judge_signed_response(
            reply.data, expected_nonce=reply.nonce or "", trust=self.trust, asked=asked
        )
        return Answer(signed, server_time(signed.payload.get("timestamp")))

    def heartbeat(
        self,
        signed: SignedSession,
        hwid: str,
        *,
        retry: RetryPolicy | None = None,
        ends_in: float | None = None,
    ) -> Answer:
        """``/auth/heartbeat`` for a live session: its refreshed answer, or ``AuthForgeError``.

        ``ends_in``: seconds until the session's signed end. The request (retries and
        their waits included) gives up then: past that end a late answer is worth nothing.
        """
        body = heartbeat_body(
            app_id=self.app_id,
            session_token=signed.session_token,
            hwid=hwid,
            nonce=new_nonce(),
        )
        deadline = time.monotonic() + max(0.0, ends_in) if ends_in is not None else None
        reply = self.transport.post(HEARTBEAT_PATH, body, retry=retry, deadline=deadline)
        if not is_success_status(reply.data.get("status")):
            raise failure_from_body(reply.data)
        # The refreshed answer belongs to the same session: same app, key (bound at
        # login) and HWID, and an end no later than the one it had.
        asked = for_heartbeat(
            app_id=self.app_id, hwid=hwid, token_claims=signed.token_body, ends_by=signed.expires_at
        )
        fresh = judge_signed_response(
            reply.data, expected_nonce=reply.nonce or "", trust=self.trust, asked=asked
        )
        return Answer(fresh, server_time(fresh.payload.get("timestamp")))

    def reverify(self, signed: SignedSession) -> None:
        """Grace mode's check: the stored answer still verifies (memory is not trusted blindly)."""
        if not self.trust.verify(signed.payload_b64, signed.signature):
            raise AuthForgeError("signature_mismatch")

    def require_secret(self) -> None:
        if not self.app_secret:
            raise AuthForgeError(
                "missing_app_secret", "missing_app_secret: online licensing needs the app secret"
            )
