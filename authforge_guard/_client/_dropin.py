"""Layer 3: ``AuthForgeClient``, a drop-in for the official SDK's client, on our transport.

Same constructor, methods, result shapes and semantics as ``authforge-sdk``
2.0 (grace mode by default, online heartbeats on request, fatal failures
clear the session before ``on_failure`` runs, no ``on_failure`` means a fatal
failure exits the process). The differences are deliberate: every network
failure has a clean code, only a real ``{"status": "failed"}`` verdict can end
a session, heartbeats carry jitter, and sessions end on a deadline that wall
clock jumps cannot move.

It is a façade: the AuthForge calls are the session engine's (``_engine``),
which the Guard drives too; offline files and activation live in
``_offline``. What is the client's own is the official SDK's surface: one
session at a time, boolean results, ``on_failure``, and its own heartbeat
thread.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any, Callable, Optional

from .._base._clock import Deadline, elapsed
from .._base._files import PathArg, write_atomic
from .._base._scheduler import UNREACHABLE_INTERVALS, HeartbeatScheduler, silence_bound
from .._exceptions import AuthForgeError
from .._protocol import (
    SELFBAN_PATH,
    PublicKeyArg,
    SignedSession,
    TrustList,
    failure_from_body,
    is_success_status,
    new_nonce,
    parse_iso_utc,
    selfban_presession_body,
    selfban_session_body,
)
from .._records import Record
from .._transport._addresses import check_heartbeat_interval
from .._transport._http import Transport
from .._transport._retry import RetryPolicy
from ._engine import Answer, Engine

logger = logging.getLogger("authforge_guard")

DEFAULT_API_BASE_URL = "https://auth.authforge.cc"

FailureCallback = Callable[[str, Optional[Exception]], None]


class _Live(Record):
    """One authenticated session, replaced wholesale (never mutated) on every change."""

    __slots__ = (
        "app_variables",
        "deadline",
        "generation",
        "key_id",
        "kind",
        "license_key",
        "license_variables",
        "offline_license",
        "payload_b64",
        "session_data",
        "signature",
        "signed",
    )
    # The payload carries the session token; the key and what was signed stay out of repr.
    _hidden = frozenset(__slots__) - {"kind", "generation", "key_id", "deadline"}

    kind: str  # "online" | "offline"
    license_key: str
    generation: int
    payload_b64: str
    signature: str
    key_id: str | None
    session_data: dict[str, Any]
    app_variables: dict[str, Any] | None
    license_variables: dict[str, Any] | None
    deadline: Deadline | None
    signed: SignedSession | None
    offline_license: dict[str, Any] | None

    def __init__(
        self,
        *,
        kind: str,
        license_key: str,
        generation: int,
        payload_b64: str,
        signature: str,
        key_id: str | None,
        session_data: dict[str, Any],
        app_variables: dict[str, Any] | None,
        license_variables: dict[str, Any] | None,
        deadline: Deadline | None = None,
        signed: SignedSession | None = None,
        offline_license: dict[str, Any] | None = None,
    ) -> None:
        self._assign(
            kind=kind,
            license_key=license_key,
            generation=generation,
            payload_b64=payload_b64,
            signature=signature,
            key_id=key_id,
            session_data=session_data,
            app_variables=app_variables,
            license_variables=license_variables,
            deadline=deadline,
            signed=signed,
            offline_license=offline_license,
        )


class AuthForgeClient:
    """An AuthForge client: login, validation, heartbeats, self-ban and offline files.

    Thread-safe. Background checks run on one daemon thread per session and
    never call user code while holding the client's lock.
    """

    def __init__(
        self,
        app_id: str,
        app_secret: str | None,
        public_key: PublicKeyArg,
        heartbeat_mode: str | None = None,
        heartbeat_interval: float = 900,
        api_base_url: str = DEFAULT_API_BASE_URL,
        on_failure: FailureCallback | None = None,
        request_timeout: float = 15,
        ttl_seconds: int | None = None,
        hwid_override: str | None = None,
        *,
        online_heartbeat: bool = False,
        proxy_url: str | None = None,
        ca_bundle: str | None = None,
        retry_policy: RetryPolicy | None = None,
        max_unreachable: float | None = None,
    ) -> None:
        if not isinstance(app_id, str) or not app_id:
            raise ValueError("app_id must be a non-empty string")
        if app_secret is None:
            app_secret = ""  # allowed: offline-only clients never send it
        elif not isinstance(app_secret, str):
            raise ValueError("app_secret must be a string or None")
        self._trust = TrustList(public_key)
        mode = None
        if heartbeat_mode:
            mode = str(heartbeat_mode).strip().upper()
            if mode not in ("LOCAL", "SERVER"):
                raise ValueError("heartbeat_mode must be LOCAL or SERVER")
        self._transport = Transport(
            api_base_url,
            timeout=request_timeout,
            proxy_url=proxy_url,
            ca_bundle=ca_bundle,
            retry=retry_policy,
        )
        self.heartbeat_interval = check_heartbeat_interval(heartbeat_interval, self._transport.host)

        self.app_id = app_id
        self.app_secret = app_secret
        self.public_keys: list[str] = list(self._trust.keys_b64)
        self.public_key = self.public_keys[0]
        self.online_heartbeat = bool(online_heartbeat) or mode == "SERVER"
        self.heartbeat_mode = "SERVER" if self.online_heartbeat else "LOCAL"
        self.api_base_url = self._transport.base_url
        self.on_failure = on_failure
        self.request_timeout = request_timeout
        self.ttl_seconds: int | None = (
            ttl_seconds
            if isinstance(ttl_seconds, int)
            and not isinstance(ttl_seconds, bool)
            and ttl_seconds > 0
            else None
        )
        self._engine = Engine(
            app_id=app_id,
            app_secret=app_secret,
            trust=self._trust,
            transport=self._transport,
            ttl_seconds=self.ttl_seconds,
        )
        self._hwid = self._engine.hwid(hwid_override)
        # Online mode: how long every heartbeat may fail before the session ends
        # (server_unreachable), measured from the last answer believed.
        if max_unreachable is not None and (
            isinstance(max_unreachable, bool)
            or not isinstance(max_unreachable, (int, float))
            or not max_unreachable > 0
        ):
            raise ValueError("max_unreachable must be a positive number of seconds")
        self.max_unreachable = (
            float(max_unreachable)
            if max_unreachable is not None
            else UNREACHABLE_INTERVALS * self.heartbeat_interval
        )
        self._confirmed = elapsed()

        self._lock = threading.Lock()
        self._live: _Live | None = None
        self._generation = 0
        self._scheduler: HeartbeatScheduler | None = None
        _CLIENTS.add(self)

    def __repr__(self) -> str:
        return (
            f"AuthForgeClient(app_id={self.app_id!r}, api_base_url={self.api_base_url!r}, "
            f"heartbeat_mode={self.heartbeat_mode!r})"
        )

    # ------------------------------------------------------------------ online

    def login(self, license_key: str) -> bool:
        """Validate ``license_key``, keep the session and start background checks.

        On failure ``on_failure("login_failed", exc)`` runs and ``False`` is
        returned; with no ``on_failure`` the process exits, as with the official SDK.
        """
        _check_license_key(license_key)
        self._require_app_secret()
        try:
            self._login(license_key)
        except Exception as exc:
            self._report_failure("login_failed", exc)
            return False
        return True

    def validate_license(self, license_key: str) -> dict[str, Any]:
        """Validate like ``login`` without keeping a session; never raises for a refusal.

        Returns the official SDK's dict: ``{"valid": True, "session_token", ...}``
        or ``{"valid": False, "code", "error"}``.
        """
        _check_license_key(license_key)
        self._require_app_secret()
        try:
            answer = self._engine.validate(license_key, self._hwid)
        except AuthForgeError as exc:
            return {"valid": False, "code": exc.code, "error": str(exc)}
        return answer.signed.validate_result()

    def _login(self, license_key: str) -> SignedSession:
        """Validate and install the session, or raise ``AuthForgeError`` (no ``on_failure``)."""
        answer = self._engine.validate(license_key, self._hwid)
        self._install_online(license_key, answer)
        return answer.signed

    def _install_online(self, license_key: str, answer: Answer) -> None:
        signed = answer.signed
        with self._lock:
            self._stop_locked()
            self._generation += 1
            self._live = _online_live(
                license_key,
                signed,
                self._generation,
                Deadline(signed.expires_at, issued_at=answer.issued_at),
            )
            self._confirmed = elapsed()
            generation = self._generation
            scheduler = HeartbeatScheduler(
                self.heartbeat_interval,
                lambda: self._heartbeat_tick(generation),
                until=lambda: self._seconds_left(generation),
            )
            self._scheduler = scheduler
        scheduler.start()
        logger.debug("authforge_guard: session started (%s checks)", self.heartbeat_mode.lower())

    def logout(self) -> None:
        """End the session and stop background checks. Never joins the check thread,
        so it is safe to call from ``on_failure`` and hooks."""
        with self._lock:
            self._clear_locked()

    def _clear_locked(self) -> None:
        self._stop_locked()
        self._generation += 1
        self._live = None

    def _stop_locked(self) -> None:
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None

    # -------------------------------------------------------- background checks

    def _seconds_left(self, generation: int) -> float | None:
        """Until session ``generation``'s signed end, on the elapsed clock (``None``: no end
        known, or no longer the live session)."""
        live = self._live
        if live is None or live.generation != generation or live.deadline is None:
            return None
        return live.deadline.remaining()

    def _heartbeat_tick(self, generation: int) -> bool:
        """One background check for session ``generation``; False stops its thread.

        A check that started before ``logout()``/``login()`` finds a newer
        generation when it returns and is discarded, so it can never bring an
        old session back or end a new one.
        """
        with self._lock:
            live = self._live
        if live is None or live.generation != generation or live.kind != "online":
            return False
        try:
            if self.online_heartbeat:
                self._server_heartbeat(live)
            else:
                self._grace_check(live)
        except AuthForgeError as exc:
            error = exc
        else:
            return True
        if error.transient and live.deadline is not None and live.deadline.passed():
            expired = AuthForgeError("session_expired")
            expired.__cause__ = error
            error = expired
        elif error.transient and self.online_heartbeat:
            error = silence_bound(self._confirmed, self.max_unreachable, error)
        with self._lock:
            if self._generation != generation:
                return False
            if error.fatal:
                self._clear_locked()
        self._report_failure("heartbeat_failed", error)
        return error.transient

    def _server_heartbeat(
        self, live: _Live, *, retry: RetryPolicy | None = None
    ) -> SignedSession | None:
        assert live.signed is not None
        answer = self._engine.heartbeat(live.signed, self._hwid, retry=retry)
        with self._lock:
            if self._generation != live.generation:
                return None  # logged out meanwhile: this answer belongs to no one
            # The server keeps the session end set at login; the deadline follows it.
            deadline = Deadline(answer.signed.expires_at, issued_at=answer.issued_at)
            self._live = _online_live(live.license_key, answer.signed, live.generation, deadline)
            self._confirmed = elapsed()
        return answer.signed

    def _grace_check(self, live: _Live) -> SignedSession | None:
        # No network: the stored answer must still verify and must not have expired.
        if live.signed is not None:
            self._engine.reverify(live.signed)
        elif not self._trust.verify(live.payload_b64, live.signature):
            raise AuthForgeError("signature_mismatch")
        if live.deadline is None or live.deadline.passed():
            raise AuthForgeError("session_expired")
        return live.signed

    def _report_failure(self, reason: str, error: Exception) -> None:
        """Tell ``on_failure`` (no lock held). Without one: log a transient check failure;
        exit the process on anything else, as the official SDK does."""
        if self.on_failure is not None:
            try:
                self.on_failure(reason, error)
                return
            except Exception:
                logger.exception("authforge_guard: on_failure handler raised")
        transient = isinstance(error, AuthForgeError) and error.transient
        if reason == "heartbeat_failed" and transient:
            logger.warning(
                "authforge_guard: background check failed (%s); retrying next interval",
                getattr(error, "code", "unknown_error"),
            )
            return
        logger.critical(
            "authforge_guard: %s (%s) and no on_failure handler: exiting the process",
            reason,
            getattr(error, "code", type(error).__name__),
        )
        os._exit(1)

    # ---------------------------------------------------------------- queries

    def is_authenticated(self) -> bool:
        """True for an online session (``login``) or an offline one (``login_from_file``)."""
        return self._live is not None

    def get_session_kind(self) -> str | None:
        """``"online"``, ``"offline"``, or ``None`` when logged out."""
        live = self._live
        return live.kind if live is not None else None

    def get_session_data(self) -> dict[str, Any] | None:
        live = self._live
        return dict(live.session_data) if live is not None else None

    def get_app_variables(self) -> dict[str, Any] | None:
        live = self._live
        return (
            dict(live.app_variables)
            if live is not None and live.app_variables is not None
            else None
        )

    def get_license_variables(self) -> dict[str, Any] | None:
        live = self._live
        if live is None or live.license_variables is None:
            return None
        return dict(live.license_variables)

    def get_offline_license(self) -> dict[str, Any] | None:
        """What the offline file this client logged in with says, or ``None``."""
        live = self._live
        if live is None or live.offline_license is None:
            return None
        return dict(live.offline_license)

    def get_hwid(self) -> str:
        """The HWID this client sends (or ``hwid_override``): what an operator binds files to."""
        return self._hwid

    @property
    def _signed_session(self) -> SignedSession | None:
        live = self._live
        return live.signed if live is not None else None

    # --------------------------------------------------------------- self-ban

    def self_ban(
        self,
        *,
        license_key: str | None = None,
        session_token: str | None = None,
        revoke_license: bool = True,
        blacklist_hwid: bool = True,
        blacklist_ip: bool = True,
    ) -> dict[str, Any]:
        """Report tampering: with a session it may revoke the license; without one it can
        only blacklist. Raises on any failure; never calls ``on_failure``."""
        token = session_token.strip() if isinstance(session_token, str) else ""
        explicit_key = license_key.strip() if isinstance(license_key, str) else ""
        live = self._live
        if live is not None and live.kind == "offline" and not token and not explicit_key:
            raise ValueError("offline_session")  # an offline session never phones home
        if not token and live is not None and live.signed is not None:
            token = live.signed.session_token
        if token:
            body = selfban_session_body(
                app_id=self.app_id,
                session_token=token,
                hwid=self._hwid,
                revoke_license=revoke_license,
                blacklist_hwid=blacklist_hwid,
                blacklist_ip=blacklist_ip,
            )
        else:
            key = explicit_key or (live.license_key if live is not None else "")
            if not key:
                raise ValueError("missing_license_key")
            self._require_app_secret()
            body = selfban_presession_body(
                app_id=self.app_id,
                app_secret=self.app_secret,
                license_key=key,
                hwid=self._hwid,
                nonce=new_nonce(),
                blacklist_hwid=blacklist_hwid,
                blacklist_ip=blacklist_ip,
            )
        reply = self._transport.post(SELFBAN_PATH, body)
        if not is_success_status(reply.data.get("status")):
            raise failure_from_body(reply.data)
        return reply.data

    # ------------------------------------------------------------ offline files

    def login_from_file(self, path_or_text: str | os.PathLike[str]) -> bool:
        """Authorise from an offline ``.authforge`` file (a path or the armored text), with
        no network. Failures go to ``on_failure("offline_login_failed", exc)`` and return
        False; never exits the process."""
        try:
            self._login_file(path_or_text)
        except AuthForgeError as exc:
            if self.on_failure is not None:
                try:
                    self.on_failure("offline_login_failed", exc)
                except Exception:
                    logger.exception("authforge_guard: on_failure handler raised")
            return False
        return True

    def _login_file(self, path_or_text: str | os.PathLike[str]) -> dict[str, Any]:
        """Verify and install an offline file, or raise ``AuthForgeError`` with the verdict code."""
        from ._offline import accept_file

        result = accept_file(self._engine, path_or_text, self._hwid)
        self._install_offline(result, replay=None)
        return result

    def verify_license_file(
        self, path_or_text: str | os.PathLike[str], *, now: Any = None
    ) -> dict[str, Any]:
        """Verify an offline file with this client's app, keys and HWID; no state change,
        never raises for bad input."""
        from ._offline import check_file

        return check_file(self._engine, path_or_text, self._hwid, now=now)

    def activate_offline(self, license_key: str, path: PathArg | None = None) -> bool:
        """Turn a license key into a lifetime, HWID-bound offline file with one online call.

        The file is verified before anything is written; ``path`` is written
        atomically and left untouched on any failure. Raises ``AuthForgeError``
        (server code, ``offline_file_rejected``, ``file_write_failed`` or a
        network code); never calls ``on_failure``.
        """
        from ._offline import activate

        _check_license_key(license_key)
        self._require_app_secret()
        result, replay = activate(self._engine, license_key, self._hwid, path)
        self._install_offline(result, replay=replay)
        return True

    def _install_offline(self, result: dict[str, Any], *, replay: bool | None) -> None:
        lic = result["license"]
        summary = {
            key: lic[key]
            for key in (
                "license_key",
                "jti",
                "key_id",
                "issued_at",
                "expires_at",
                "hwid_policy",
                "label",
                "license_expires_at",
            )
            if key in lic
        }
        if replay is not None:
            summary["replay"] = replay
        expires = parse_iso_utc(lic["expires_at"])
        with self._lock:
            self._clear_locked()
            self._live = _Live(
                kind="offline",
                license_key=lic["license_key"],
                generation=self._generation,
                payload_b64=result["payload_base64"],
                signature=result["signature_base64"],
                key_id=lic["key_id"],
                session_data=dict(lic["payload"]),
                app_variables=lic["app_variables"],
                license_variables=lic["license_variables"],
                deadline=Deadline(expires) if expires is not None else None,
                offline_license=summary,
            )

    def create_activation_request(
        self,
        *,
        include_machine_name: bool = False,
        machine_name: str | None = None,
        os: str | None = None,
        omit_os: bool = False,
        sdk: str | None = None,
        omit_sdk: bool = False,
        license_key: str | None = None,
        created_at: str | None = None,
    ) -> str:
        """An activation request for this machine (no network, no secret). The hostname is
        included only with ``include_machine_name``: it is often a person's name."""
        from ._offline import activation_request

        live = self._live
        return activation_request(
            self._engine,
            self._hwid,
            include_machine_name=include_machine_name,
            machine_name=machine_name,
            os_name=os,
            omit_os=omit_os,
            sdk=sdk,
            omit_sdk=omit_sdk,
            license_key=license_key
            if license_key is not None
            else (live.license_key if live is not None else None),
            created_at=created_at,
        )

    def write_activation_request(self, path: PathArg, **kwargs: Any) -> None:
        """Write ``create_activation_request(**kwargs)`` to ``path`` atomically (UTF-8)."""
        write_atomic(path, self.create_activation_request(**kwargs).encode("utf-8"))

    # ---------------------------------------------------------------- helpers

    def _require_app_secret(self) -> None:
        if not self.app_secret:
            raise ValueError(
                "app_secret is required for online calls; omit it only with login_from_file"
            )


def _online_live(
    license_key: str, signed: SignedSession, generation: int, deadline: Deadline
) -> _Live:
    return _Live(
        kind="online",
        license_key=license_key,
        generation=generation,
        payload_b64=signed.payload_b64,
        signature=signed.signature,
        key_id=signed.key_id,
        session_data=dict(signed.payload),
        app_variables=signed.app_variables,
        license_variables=signed.license_variables,
        deadline=deadline,
        signed=signed,
    )


def _check_license_key(license_key: Any) -> None:
    if not isinstance(license_key, str) or not license_key:
        raise ValueError("license_key must be a non-empty string")


# A forked child must not believe it owns the parent's heartbeat: threads do
# not survive fork, and a lock held at fork time would never be released.
_CLIENTS: weakref.WeakSet[AuthForgeClient] = weakref.WeakSet()


def _reset_clients_after_fork() -> None:
    for client in list(_CLIENTS):
        client._lock = threading.Lock()
        client._scheduler = None
        client._generation += 1
        client._live = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_clients_after_fork)
