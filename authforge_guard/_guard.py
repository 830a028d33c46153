"""Layer 4: ``Guard``, one per licensed program: one login, one session, its hooks and policy.

What a loss does after its hooks (``on_lost``) lives in ``_policy``; how it
reaches running code in ``_delivery``; the hooks themselves in ``_hooks``.

The guarded hot path reads one attribute, ``_fast_ok``: true while a session
is live and no thread still has a loss to see. Everything else (logging in,
delivering a loss, running hooks) happens off that path.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
    overload,
)

from ._config import GuardSettings, missing_setting, resolve_settings
from ._delivery import Delivery
from ._exceptions import AuthForgeError, ConfigurationError, LicenseError
from ._hooks import _UNSET, HookRegistry, LicenseEvent, running_hook
from ._policy import policy_for
from ._scheduler import SessionTimer
from ._session import Session, build_state

if TYPE_CHECKING:
    from ._client import AuthForgeClient
    from ._protocol import SignedSession
    from ._retry import RetryPolicy
    from ._session_cache import SessionCache

logger = logging.getLogger("authforge_guard")

F = TypeVar("F", bound=Callable[..., Any])

# A definitive refusal is remembered this long, so code that keeps calling a
# gated function after a revocation does not send a login per call.
REFUSAL_MEMORY_SECONDS = 30.0
_REMEMBERED_CODES = frozenset({"invalid_key"})


class Guard:
    """Licensing for one program: ``ensure()`` logs in once; hooks and ``on_lost`` decide
    what a loss does.

    Every keyword falls back to its ``AUTHFORGE_*`` environment variable (see
    the README's configuration table); a missing or bad one raises
    ``ConfigurationError`` naming both.
    """

    def __init__(
        self,
        *,
        app_id: Optional[str] = None,
        app_secret: Optional[str] = None,
        public_key: Optional[Union[str, Tuple[str, ...], list]] = None,  # type: ignore[type-arg]
        license_key: Optional[str] = None,
        license_file: Optional[Union[str, os.PathLike]] = None,  # type: ignore[type-arg]
        api_base_url: Optional[str] = None,
        heartbeat: Optional[str] = None,
        heartbeat_mode: Optional[str] = None,
        heartbeat_interval: Optional[float] = None,
        ttl_seconds: Optional[int] = None,
        hwid_override: Optional[str] = None,
        request_timeout: Optional[float] = None,
        tiers: Tuple[str, ...] = ("free", "pro", "enterprise"),
        tier_variable: str = "tier",
        features_variable: str = "features",
        on_lost: str = "raise",
        exit_code: int = 1,
        interrupt: bool = True,
        interrupt_signal: Optional[Union[int, str]] = None,
        hook_timeout: Optional[float] = 30.0,
        exit_grace: float = 10.0,
        session_cache: Optional[Union[bool, str, os.PathLike]] = None,  # type: ignore[type-arg]
        ca_bundle: Optional[str] = None,
        proxy_url: Optional[str] = None,
        session_store: Optional[Union[bool, str, os.PathLike]] = None,  # type: ignore[type-arg]
        session_idle_timeout: Optional[float] = None,
        max_sessions: Optional[int] = None,
        on_refused: str = "raise",
        support_hint: Optional[str] = None,
        trust_environment: bool = False,
        retry_policy: Optional[RetryPolicy] = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> None:
        given = {
            key: value
            for key, value in dict(
                app_id=app_id,
                app_secret=app_secret,
                public_key=public_key,
                license_key=license_key,
                license_file=license_file,
                api_base_url=api_base_url,
                heartbeat=heartbeat,
                heartbeat_mode=heartbeat_mode,
                heartbeat_interval=heartbeat_interval,
                ttl_seconds=ttl_seconds,
                hwid_override=hwid_override,
                request_timeout=request_timeout,
                tiers=tiers,
                tier_variable=tier_variable,
                features_variable=features_variable,
                on_lost=on_lost,
                exit_code=exit_code,
                interrupt=interrupt,
                interrupt_signal=interrupt_signal,
                hook_timeout=hook_timeout,
                exit_grace=exit_grace,
                session_cache=session_cache,
                ca_bundle=ca_bundle,
                proxy_url=proxy_url,
                session_store=session_store,
                session_idle_timeout=session_idle_timeout,
                max_sessions=max_sessions,
                on_refused=on_refused,
                support_hint=support_hint,
                trust_environment=trust_environment,
            ).items()
            if value is not None or key == "hook_timeout"
        }
        self.settings: GuardSettings = resolve_settings(given, environ)
        self._retry_policy = retry_policy
        self._client: Optional[AuthForgeClient] = None
        self._session: Optional[Session] = None
        self._fast_ok = False
        self._state_lock = threading.Lock()
        self._login_lock = threading.Lock()
        self._hooks = HookRegistry(self.settings.hook_timeout)
        self._delivery = Delivery(
            interrupt=self.settings.interrupt, signum=self.settings.interrupt_signal
        )
        self._refusals: Dict[str, Tuple[float, LicenseError]] = {}
        self._last_signed: Optional[SignedSession] = None
        self._offline_timer: Optional[SessionTimer] = None
        self._policy = policy_for(self.settings, self._delivery)
        self._hook_session: Optional[Session] = None
        self._cache: Optional[SessionCache] = None  # session reuse across restarts (opt-in)
        # Orders a heartbeat's store against logout/loss forgetting the entry.
        self._cache_lock = threading.Lock()
        if self.settings.session_cache:
            from ._session_cache import SessionCache

            self._cache = SessionCache.from_setting(
                self.settings.session_cache, self.settings.app_id, environ
            )
        _GUARDS.add(self)

    def __repr__(self) -> str:
        session = self._session
        state = f"session={session!r}" if session is not None else "no session"
        return f"Guard(app_id={self.settings.app_id!r}, {state})"

    # ------------------------------------------------------------------ state

    @property
    def session(self) -> Optional[Session]:
        """The live session, or ``None``."""
        session = self._session
        return session if session is not None and session.active else None

    @property
    def client(self) -> AuthForgeClient:
        """The underlying ``AuthForgeClient`` (created on first use)."""
        with self._state_lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> AuthForgeClient:
        from ._client import AuthForgeClient

        s = self.settings
        try:
            client = AuthForgeClient(
                s.app_id,
                s.app_secret,
                list(s.public_key) if isinstance(s.public_key, tuple) else s.public_key,
                heartbeat_interval=s.heartbeat_interval,
                api_base_url=s.api_base_url,
                on_failure=self._on_client_failure,
                request_timeout=s.request_timeout,
                ttl_seconds=s.ttl_seconds,
                hwid_override=s.hwid_override,
                online_heartbeat=s.online,
                proxy_url=s.proxy_url,
                ca_bundle=s.ca_bundle,
                retry_policy=self._retry_policy,
            )
        except ValueError as exc:  # settings are checked at construction: a last guard
            raise ConfigurationError(f"cannot build the AuthForge client: {exc}") from None
        client._on_refresh = self._on_refresh
        return client

    # ------------------------------------------------------------------ login

    def ensure(
        self,
        license_key: Optional[str] = None,
        *,
        license_file: Optional[Union[str, os.PathLike]] = None,  # type: ignore[type-arg]
    ) -> Session:
        """The live session, logging in first if there is none (thread-safe: racing first
        calls make one login). Raises ``LicenseError`` when no license can be had."""
        return self._ensure(license_key, license_file)[0]

    def _ensure(
        self,
        license_key: Optional[str] = None,
        license_file: Optional[Union[str, os.PathLike]] = None,  # type: ignore[type-arg]
    ) -> Tuple[Session, bool]:
        """``(session, opened)``: ``opened`` is True when this call did the login."""
        self._delivery.wait_for_hooks()  # a loss in progress is seen after its hooks
        lost = self._delivery.take_pending_for_current_thread()
        if lost is not None:
            self._refresh_fast_flag()
            raise lost
        session = self._matching_session(license_key)
        if session is not None:
            return session, False
        with self._login_lock:
            session = self._matching_session(license_key)
            if session is not None:
                return session, False
            return self._login(license_key, license_file), True

    def _matching_session(self, license_key: Optional[str]) -> Optional[Session]:
        session = self.session
        if session is None:
            return None
        if license_key is not None and license_key != session.reveal_license_key():
            raise LicenseError(
                "license_conflict",
                f"this Guard already holds license {session.license_key}; "
                "use a separate Guard for a second license",
            )
        return session

    def _login(
        self,
        license_key: Optional[str],
        license_file: Optional[Union[str, os.PathLike]],  # type: ignore[type-arg]
    ) -> Session:
        explicit_key = license_key is not None
        key = license_key if explicit_key else self.settings.license_key
        path = (
            license_file
            if license_file is not None
            else (None if explicit_key else self.settings.license_file)
        )
        if key is None and path is None:
            raise missing_setting(
                "license_key",
                "argument license_key=",
                "or license_file= / AUTHFORGE_LICENSE_FILE for an offline file",
            )
        if path is not None:
            try:
                return self._login_offline(path)
            except LicenseError as exc:
                if key is None:
                    raise
                logger.info(
                    "authforge_guard: license file refused (%s); trying the license key", exc.code
                )
        assert key is not None
        return self._login_online(key)

    def _login_offline(self, path: Union[str, os.PathLike]) -> Session:  # type: ignore[type-arg]
        try:
            result = self.client._login_file(path)
        except AuthForgeError as exc:
            raise LicenseError(exc.code, f"license file refused: {exc.code}") from None
        lic = result["license"]
        from ._protocol import parse_iso_utc

        expires = parse_iso_utc(lic["expires_at"])
        session = self._start_session(
            lic["license_key"], "offline", lic["license_variables"], lic["app_variables"], expires
        )
        if expires is not None:
            self._arm_offline_expiry(session, expires - time.time())
        return session

    def _login_online(self, key: str) -> Session:
        if not self.settings.app_secret:
            raise missing_setting("app_secret", "argument app_secret=", "online licensing needs it")
        remembered = self._refusals.get(key)
        if remembered is not None and time.monotonic() - remembered[0] < REFUSAL_MEMORY_SECONDS:
            raise remembered[1]
        signed = self._resume_cached(key) if self._cache is not None else None
        if signed is None:
            try:
                signed = self.client._login(key)
            except AuthForgeError as exc:
                error = LicenseError(exc.code, f"license refused: {exc.code}")
                if exc.fatal or exc.code in _REMEMBERED_CODES:
                    self._refusals[key] = (time.monotonic(), error)
                raise error from None
            self._store_cached(key, signed)
        self._refusals.pop(key, None)
        self._last_signed = signed
        return self._start_session(
            key, "online", signed.license_variables, signed.app_variables, signed.expires_at
        )

    # ---------------------------------------------------------- session cache

    def _resume_cached(self, key: str) -> Optional[SignedSession]:
        """The cached session for ``key``, installed in the client, or ``None``: log in.

        Grace mode believes a verified entry with no network call; online mode
        asks the server once with a heartbeat (a tenth of a credit instead of
        one), and any refusal of the old session means a normal login.
        """
        assert self._cache is not None
        client = self.client
        found = self._cache.load(key, trust=client._trust, hwid=client.get_hwid())
        if found.session is None:
            level = logging.DEBUG if found.missing else logging.INFO
            logger.log(level, "authforge_guard: not resuming a cached session: %s", found.reason)
            return None
        try:
            fresh = client._resume(key, found.session)
        except AuthForgeError as refusal:
            logger.info("authforge_guard: cached session refused (%s); logging in", refusal.code)
            if refusal.fatal:
                self._forget_cached(key)
            return None
        if self.settings.online:
            self._store_cached(key, fresh)
            logger.info("authforge_guard: resumed the cached session (online: one heartbeat)")
        else:
            logger.info("authforge_guard: resumed the cached session (grace: no network call)")
        return fresh

    def _store_cached(
        self, key: str, signed: SignedSession, session: Optional[Session] = None
    ) -> None:
        """Keep ``signed`` for the next run; with ``session``, only while it is still live."""
        if self._cache is None:
            return
        with self._cache_lock:
            if session is None or session.active:
                self._cache.store(key, signed)

    def _forget_cached(self, key: str) -> None:
        if self._cache is None:
            return
        with self._cache_lock:
            self._cache.forget(key)

    def _start_session(
        self,
        key: str,
        kind: str,
        license_variables: Optional[Dict[str, Any]],
        app_variables: Optional[Dict[str, Any]],
        expires: Optional[float],
    ) -> Session:
        session = Session(key, kind, self._state_for(license_variables, app_variables, expires))
        with self._state_lock:
            self._session = session
        self._refresh_fast_flag()
        self._policy.session_started()
        logger.info(
            "authforge_guard: licensed (%s, tier %s, key %s)",
            kind,
            session.tier,
            session.license_key,
        )
        return session

    def _state_for(
        self,
        license_variables: Optional[Dict[str, Any]],
        app_variables: Optional[Dict[str, Any]],
        expires: Optional[float],
    ) -> Any:
        s = self.settings
        return build_state(
            license_variables,
            app_variables,
            expires,
            tiers=s.tiers,
            tier_variable=s.tier_variable,
            features_variable=s.features_variable,
        )

    def _refresh_fast_flag(self) -> None:
        session = self._session
        self._fast_ok = (
            session is not None and session.active and not self._delivery.has_undelivered()
        )

    def logout(self, *, forget: bool = False) -> None:
        """End the session (no hooks run: this is not a loss). ``forget=True`` also deletes
        its cached copy (see ``session_cache``)."""
        with self._login_lock:
            client = self._client
            if client is not None:
                client.logout()
            with self._state_lock:
                session, self._session = self._session, None
                self._fast_ok = False
            if session is not None:
                session._end("logout")
            if forget:
                # With no session in this process (a "sign out" command), the
                # configured key still names the entry to delete.
                key = session.reveal_license_key() if session is not None else None
                key = key or self.settings.license_key
                if key:
                    self._forget_cached(key)
            self._cancel_offline_timer()
            self._refusals.clear()
            self._last_signed = None
            self._policy.session_ended()

    close = logout

    def _after_fork(self) -> None:
        """In a forked child: no session (the client was reset, its heartbeat thread is
        gone), fresh locks (another thread may have held one at the fork). The next
        guarded call logs in again, for this process."""
        self._state_lock = threading.Lock()
        self._login_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        session, self._session = self._session, None
        self._fast_ok = False
        self._offline_timer = None  # its thread did not survive the fork
        self._last_signed = None
        # Hooks running at the fork run on in the parent only: none to wait for here.
        self._hook_session = None
        self._delivery.after_fork()
        self._hooks.after_fork()
        if session is not None:
            session._end("fork")

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.logout()

    # --------------------------------------------------- background callbacks

    def _on_refresh(self, signed: SignedSession) -> None:
        """A heartbeat was accepted (heartbeat thread, no lock held)."""
        if signed is self._last_signed:
            return
        session = self._session
        if session is None or not session.active:
            return
        self._last_signed = signed
        session._state = self._state_for(
            signed.license_variables, signed.app_variables, signed.expires_at
        )
        # A logout or loss racing this refresh must not see its forgotten entry written back.
        self._store_cached(session.reveal_license_key(), signed, session)

    def _on_client_failure(self, reason: str, error: Optional[Exception]) -> None:
        """The client's ``on_failure`` (heartbeat thread, no lock held). Never raises: the
        client would take a raising handler as "no handler" and exit the process."""
        try:
            self._handle_check_failure(error)
        except Exception:
            logger.exception("authforge_guard: internal error while handling a license failure")

    def _handle_check_failure(self, error: Optional[Exception]) -> None:
        if not isinstance(error, AuthForgeError):
            error = AuthForgeError("unknown_error", f"unknown_error: {type(error).__name__}")
        session = self._session
        if error.transient:
            logger.warning("authforge_guard: license check failed (%s); will retry", error.code)
            self._hooks.run_transient(LicenseEvent("transient", error.code, False, error, session))
            return
        self._lose(session, error)

    def _lose(self, session: Optional[Session], error: AuthForgeError) -> None:
        """A fatal loss: end the session, run the hooks in order, then apply ``on_lost``."""
        with self._state_lock:
            if session is None or self._session is not session or not session.active:
                return  # already ended (logout, an earlier loss): nothing to report
            self._session = None
            self._fast_ok = False
            session._end(error.code)
            # Guarded calls from now on wait for the hooks: user code sees the loss
            # only after the cleanup ran (calls made by the hooks themselves pass).
            self._delivery.hooks_idle.clear()
            self._hook_session = session
        try:
            self._apply_loss(session, error)
        finally:
            self._delivery.hooks_idle.set()

    def _apply_loss(self, session: Session, error: AuthForgeError) -> None:
        self._cancel_offline_timer()
        if session.kind == "online":
            self._forget_cached(session.reveal_license_key())
        logger.error("authforge_guard: license lost (%s)", error.code)
        self._policy.before_hooks(session.lineage, error.code)
        self._hooks.run_fatal(LicenseEvent("lost", error.code, True, error, session))
        self._policy.after_hooks(session.lineage, error.code)

    def _arm_offline_expiry(self, session: Session, remaining: float) -> None:
        def expire() -> None:
            self._lose(session, AuthForgeError("expired"))

        timer = SessionTimer(remaining, expire, name="authforge-offline-expiry")
        self._cancel_offline_timer()
        self._offline_timer = timer
        timer.start()

    def _cancel_offline_timer(self) -> None:
        timer, self._offline_timer = self._offline_timer, None
        if timer is not None:
            timer.cancel()

    # ------------------------------------------------------------------ hooks

    def on(self, *codes: str, timeout: Any = _UNSET) -> Callable[[F], F]:
        """``@guard.on("revoked", "expired")``: run for a fatal loss with one of these codes."""
        if not codes or not all(isinstance(c, str) and c for c in codes):
            raise ValueError("guard.on() needs at least one error code, e.g. 'revoked'")

        def register(fn: F) -> F:
            self._hooks.add_code_hook(codes, fn, timeout)
            return fn

        return register

    @overload
    def on_lost(self, fn: F) -> F: ...
    @overload
    def on_lost(self, *, timeout: Optional[float] = ...) -> Callable[[F], F]: ...

    def on_lost(self, fn: Any = None, *, timeout: Any = _UNSET) -> Any:
        """``@guard.on_lost``: run for any fatal loss (after the code hooks)."""
        return self._register(self._hooks.add_lost_hook, fn, timeout)

    @overload
    def on_transient(self, fn: F) -> F: ...
    @overload
    def on_transient(self, *, timeout: Optional[float] = ...) -> Callable[[F], F]: ...

    def on_transient(self, fn: Any = None, *, timeout: Any = _UNSET) -> Any:
        """``@guard.on_transient``: run when a background check fails but the session lives."""
        return self._register(self._hooks.add_transient_hook, fn, timeout)

    @staticmethod
    def _register(add: Callable[[Any, Any], None], fn: Any, timeout: Any) -> Any:
        if fn is not None:
            add(fn, timeout)
            return fn

        def register(hook: F) -> F:
            add(hook, timeout)
            return hook

        return register

    def add_cleanup(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` on a fatal loss, after the hooks; last added runs first."""
        self._hooks.add_cleanup(fn, args, kwargs, _UNSET)

    # ----------------------------------------------------- integration sugar

    def requires_license(self, fn: Any = None, **options: Any) -> Any:
        """``@guard.requires_license``: ``requires_license`` bound to this guard."""
        from ._decorators import requires_license

        return requires_license(fn, guard=self, **options)

    def licensed(self, license_key: Optional[str] = None, **options: Any) -> Any:
        from ._licensed import licensed

        return licensed(license_key, guard=self, **options)

    def feature(self, name: str, **options: Any) -> Any:
        from ._features import feature

        return feature(name, guard=self, **options)

    def has_feature(self, name: str) -> bool:
        from ._features import has_feature

        return has_feature(name, guard=self)

    def _check_guarded_call(self, license_key: Optional[str] = None) -> Session:
        """The slow path of a guarded call: deliver a pending loss, else make sure of a session."""
        if running_hook():
            # A cleanup saving the user's work may call guarded code: let it, on the
            # session that was just lost.
            hook_session = self._hook_session
            if hook_session is not None and not self._delivery.hooks_idle.is_set():
                return hook_session
        self._delivery.wait_for_hooks()
        self._policy.check_call()
        session = self.ensure(license_key)
        self._refresh_fast_flag()
        return session


# ---------------------------------------------------------------- the default


class _Default:
    """Holds the process-wide guard; decorators read ``.guard`` on their hot path."""

    __slots__ = ("guard", "lock")

    def __init__(self) -> None:
        self.guard: Optional[Guard] = None
        self.lock = threading.Lock()


DEFAULT = _Default()


def configure(**kwargs: Any) -> Guard:
    """Make a ``Guard(**kwargs)`` the process-wide default (the previous one is logged out)."""
    guard = Guard(**kwargs)
    with DEFAULT.lock:
        previous, DEFAULT.guard = DEFAULT.guard, guard
    if previous is not None:
        previous.logout()
    return guard


def get_guard() -> Guard:
    """The process-wide default guard, built from the environment on first use."""
    guard = DEFAULT.guard
    if guard is not None:
        return guard
    with DEFAULT.lock:
        if DEFAULT.guard is None:
            DEFAULT.guard = Guard()
        return DEFAULT.guard


def _reset_default_for_tests() -> None:
    with DEFAULT.lock:
        previous, DEFAULT.guard = DEFAULT.guard, None
    if previous is not None:
        previous.logout()


# A forked child must not run on its parent's session: its clients start
# logged out (see _client), so its Guards forget their sessions too.
_GUARDS: weakref.WeakSet[Guard] = weakref.WeakSet()


def _reset_guards_after_fork() -> None:
    for guard in list(_GUARDS):
        guard._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_guards_after_fork)
