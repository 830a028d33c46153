"""Layer 4: ``Guard``, one per licensed program: its sessions, their hooks and policy.

A Guard serves its default license (the configured key or file) and any
number of other ``(license key, hwid)`` sessions at once: a bot or a SaaS API
licenses each of its users with the same Guard. Each pair has its own
``Session``; a loss of one runs the hooks with that session and raises only
in that session's blocks.

This module is the façade: the public methods. Its parts live next to it,
objects the Guard holds that know nothing of the Guard class: the login
(from a call's arguments to an installed session) in ``_login_flow``; the
table of sessions (logins in flight, remembered failures, eviction, idle
sweep) in ``_session_table``; the engine and session stores in
``_upstream``; each session's background checks and deadlines in ``_checks``
(run by ``_scheduler``, one timer thread for every session of the process);
what a loss does in ``_losses``. Then ``on_lost`` in ``_policy``, reaching
running code through ``_delivery._blocks``; the hooks in ``_hooks``; the AuthForge
calls in ``_engine``. The parts reach the Guard only through weak calls (the
login flow's setting of ``_fast_session``, the loss path's drop of an entry),
so a Guard the program drops is freed at once.
The process-wide default guard is ``_default_guard``; the session a guarded
call runs on, ``_guarded_call``.

The guarded hot path reads one attribute, ``_fast_session``: the default
license's session while it is live, else ``None``. Everything else (logging
in, delivering a loss, running hooks) happens off that path.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    TypeVar,
    overload,
)

from .. import _sugar
from .._base._scheduler import weak_method
from .._delivery import _blocks
from .._delivery._hooks import _UNSET, HookRegistry
from .._exceptions import AuthForgeError, LicenseError
from ._checks import SessionChecks
from ._config import GuardSettings, resolve_settings
from ._login_flow import LoginFlow
from ._losses import LossPath
from ._policy import policy_for
from ._session import Session
from ._session_table import SessionTable, cancel_all_entries
from ._sessions import DEFAULT_SLOT, Entry, Slot
from ._upstream import Upstream

if TYPE_CHECKING:
    import asyncio

    from .._api._licensed import licensed as _LicensedBlock
    from .._base._files import PathArg
    from .._client._engine import Engine
    from .._delivery._blocks import Block
    from .._stores import SessionStore
    from .._stores._fleet import Fleet
    from .._transport._retry import RetryPolicy

logger = logging.getLogger("authforge_guard")

F = TypeVar("F", bound=Callable[..., Any])


class Guard:
    """Licensing for one program: ``ensure()`` logs in once per ``(key, hwid)``; hooks and
    ``on_lost`` decide what a loss does.

    Every keyword falls back to its ``AUTHFORGE_*`` environment variable (see
    the README's configuration table); a missing or bad one raises
    ``ConfigurationError`` naming both.
    """

    def __init__(
        self,
        *,
        app_id: str | None = None,
        app_secret: str | None = None,
        public_key: str | tuple[str, ...] | list[str] | None = None,
        license_key: str | None = None,
        license_file: PathArg | None = None,
        api_base_url: str | None = None,
        heartbeat: str | None = None,
        heartbeat_mode: str | None = None,
        heartbeat_interval: float | None = None,
        ttl_seconds: int | None = None,
        hwid_override: str | None = None,
        request_timeout: float | None = None,
        tiers: tuple[str, ...] = ("free", "pro", "enterprise"),
        tier_variable: str = "tier",
        features_variable: str = "features",
        on_lost: str = "raise",
        exit_code: int = 1,
        interrupt: bool = True,
        interrupt_signal: int | str | None = None,
        hook_timeout: float | None = 30.0,
        exit_grace: float = 10.0,
        session_cache: bool | PathArg | None = None,
        ca_bundle: str | None = None,
        proxy_url: str | None = None,
        session_store: bool | PathArg | SessionStore | None = None,
        session_idle_timeout: float | None = None,
        max_sessions: int | None = None,
        login_workers: int | None = None,
        on_refused: str = "raise",
        support_hint: str | None = None,
        trust_environment: bool = False,
        offline: bool = False,
        max_unreachable: float | None = None,
        retry_policy: RetryPolicy | None = None,
        environ: Mapping[str, str] | None = None,
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
                login_workers=login_workers,
                on_refused=on_refused,
                support_hint=support_hint,
                trust_environment=trust_environment,
                offline=offline,
                max_unreachable=max_unreachable,
            ).items()
            if value is not None or key == "hook_timeout"
        }
        self.settings: GuardSettings = resolve_settings(given, environ)
        # The hot path's one read: the default license's live session, else None.
        self._fast_session: Session | None = None
        self._hooks = HookRegistry(self.settings.hook_timeout)
        self._policy = policy_for(self.settings)
        self._signal = self.settings.interrupt_signal if self.settings.interrupt else None
        # AuthForge and the session stores (``_upstream``): an object of its own.
        self._upstream = Upstream(self.settings, retry_policy, environ)
        self._fleet = self._upstream.fleet  # the Guard's own store, if any (opt-in)
        if self._fleet is not None:
            weakref.finalize(self, self._fleet.close)
        # The sessions by slot, the logins in flight, the failures remembered: an object
        # of its own, whose lock every part of this Guard takes for its entries.
        self._table = SessionTable(
            fleet=self._fleet,
            idle_timeout=self.settings.session_idle_timeout,
            max_sessions=self.settings.max_sessions,
        )
        # What a loss does (end, mark the blocks, hooks, ``on_lost``), and each session's
        # background checks and deadlines, on the shared timer thread.
        self._losses = LossPath(
            self._table,
            self._upstream,
            self._hooks,
            self._policy,
            weak_method(self, "_drop_locked"),
        )
        self._checks = SessionChecks(
            self.settings, self._table, self._upstream, self._hooks, self._losses.lose
        )
        # From a call's arguments to an installed session (``_login_flow``), with its own
        # login threads; it sets the hot path's session through a weak call.
        self._login_flow = LoginFlow(
            self.settings,
            self._table,
            self._upstream,
            self._checks,
            self._losses,
            self._policy,
            # A weak call: the flow (and its login threads) never keep the Guard alive.
            weak_method(self, "_show_session"),
        )
        _GUARDS.add(self)
        # A Guard the program no longer references stops its sessions' timers.
        weakref.finalize(self, cancel_all_entries, self._table.entries)

    def __repr__(self) -> str:
        session = self.session
        state = f"session={session!r}" if session is not None else "no session"
        others = sum(1 for slot in self._table.entries if slot is not DEFAULT_SLOT)
        extra = f", {others} other sessions" if others else ""
        return f"Guard(app_id={self.settings.app_id!r}, {state}{extra})"

    # ------------------------------------------------------------------ state

    @property
    def _entries(self) -> dict[Slot | None, Entry]:
        """The live entries by slot (the session table's; tests and tools read it)."""
        return self._table.entries

    @property
    def _lock(self) -> threading.Lock:
        """The session table's lock: the one lock of this Guard's sessions."""
        return self._table.lock

    @property
    def session(self) -> Session | None:
        """The default license's live session, or ``None``."""
        entry = self._table.entries.get(DEFAULT_SLOT)
        return entry.session if entry is not None and entry.session.active else None

    @property
    def sessions(self) -> list[Session]:
        """Every live session of this Guard (the default license's and the others)."""
        return [e.session for e in list(self._table.entries.values()) if e.session.active]

    @property
    def _engine(self) -> Engine:
        """The AuthForge calls of this Guard's app (built on first use: no import before)."""
        return self._upstream.engine

    def hwid(self, hwid_override: str | None = None) -> str:
        """The HWID this Guard sends for ``hwid_override`` (default: its configured one)."""
        return self._upstream.hwid(hwid_override)

    def _validate_once(self, license_key: str) -> dict[str, Any]:
        """One ``/auth/validate`` with no session kept: the official SDK's result dict
        (``{"valid": False, "code", "error"}`` for a refusal). For ``authforge-guard check``."""
        try:
            answer = self._engine.validate(license_key, self.hwid())
        except AuthForgeError as exc:
            return {"valid": False, "code": exc.code, "error": str(exc)}
        return answer.signed.validate_result()

    # ------------------------------------------------------------------ login

    def ensure(
        self,
        license_key: str | None = None,
        *,
        hwid_override: str | None = None,
        license_file: PathArg | None = None,
    ) -> Session:
        """The live session for ``(license_key, hwid_override)`` (default: the configured
        license), logging in first if there is none. Thread-safe: racing first calls make
        one login and share its result. Raises ``LicenseError`` when no license can be had,
        ``LicenseLost`` inside a ``licensed()`` block whose license was lost."""
        lost = _blocks.lost_around(_blocks.current_block())
        if lost is not None:
            raise lost
        flow = self._login_flow
        return flow.obtain(
            flow.slot(license_key, hwid_override, license_file), license_file
        ).session

    async def aensure(
        self,
        license_key: str | None = None,
        *,
        hwid_override: str | None = None,
        license_file: PathArg | None = None,
    ) -> Session:
        """``ensure()`` for coroutines: a live session is returned at once; a login runs in a
        worker thread, never on the event loop."""
        block = _blocks.current_block()
        if block is not None:
            await _blocks.await_loss(block)
        flow = self._login_flow
        slot = flow.slot(license_key, hwid_override, license_file)
        entry = self._table.live(slot)
        if entry is not None:
            return entry.session
        return (await flow.obtain_async(slot, license_file)).session

    # ---------------------------------------------------------- session store

    def _serve(self, hwid: str, fleet: Fleet | None) -> None:
        """Sessions for ``hwid`` (a chat user's subject) live in ``fleet``'s store and are
        checked online every interval, whatever this guard's mode; ``None`` undoes it."""
        self._upstream.serve(hwid, fleet)

    # ----------------------------------------------------------------- logout

    def logout(
        self,
        license_key: str | None = None,
        *,
        hwid_override: str | None = None,
        forget: bool = False,
    ) -> None:
        """End sessions (no hooks run: this is not a loss). Without arguments every session
        of this Guard ends; with a key (and hwid) only that one. ``forget=True`` also
        deletes the cached copy (see ``session_cache``)."""
        every = license_key is None and hwid_override is None
        table = self._table
        with table.lock:
            if every:
                ended = list(table.entries.values())
            else:
                slot = self._login_flow.slot(license_key, hwid_override, None)
                found = table.entries.get(slot)
                ended = [found] if found is not None else []
            for entry in ended:
                self._drop_locked(entry, "logout")
            if every:
                table.clear_locked()
        online = [e for e in ended if e.session.kind == "online"]
        for entry in online:
            served = self._upstream.fleet_for(entry.hwid)
            if served is not None:
                served.release(entry.key, entry.hwid)  # another instance checks it in now
                if forget:
                    served.forget(entry.key, entry.hwid)
        fleet = self._fleet
        if fleet is not None and forget:
            # With no session in this process (a "sign out" command), the
            # configured key still names the entries to delete.
            key = self.settings.license_key if every else license_key
            if key and not any(e.key == key for e in online):
                fleet.forget(key)
        if every or any(e.is_default for e in ended):
            self._policy.session_ended()

    close = logout

    def _after_fork(self) -> None:
        """In a forked child: no sessions (their timers did not survive the fork), fresh
        locks (another thread may have held one). The next guarded call logs in again,
        for this process (or resumes from the session cache)."""
        self._upstream.after_fork()
        entries = self._table.after_fork()
        weakref.finalize(self, cancel_all_entries, self._table.entries)
        self._fast_session = None
        self._hooks.after_fork()
        self._policy.after_fork()
        for entry in entries:
            entry.session._end("fork")

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.logout()

    # ------------------------------------------------------- blocks (licensed)

    def _open_block(
        self,
        license_key: str | None,
        hwid_override: str | None,
        license_file: Any,
        task: asyncio.Task[Any] | None,
        entry: Entry | None = None,
    ) -> Block:
        """Count a new ``licensed()`` block on its session (logging in first if needed)."""
        flow = self._login_flow
        slot = flow.slot(license_key, hwid_override, license_file)
        if entry is None:
            entry = flow.obtain(slot, license_file, by_block=True)
        with self._table.lock:
            if not entry.session.active:
                raise LicenseError(entry.session.lost_code or "session_expired")
            block = _blocks.Block(entry.session, self, task=task)
            block.slot = slot
            entry.blocks.append(block)
            entry.last_used = time.monotonic()
        return block

    async def _aopen_block(
        self,
        license_key: str | None,
        hwid_override: str | None,
        license_file: Any,
        task: asyncio.Task[Any] | None,
    ) -> Block:
        """``_open_block`` for ``async with licensed()``: a login runs in a worker thread,
        never on the event loop."""
        flow = self._login_flow
        slot = flow.slot(license_key, hwid_override, license_file)
        entry = await flow.obtain_async(slot, license_file, by_block=True)
        return self._open_block(license_key, hwid_override, license_file, task, entry)

    def _live_entry(
        self, license_key: str | None, hwid_override: str | None, license_file: Any
    ) -> Entry | None:
        """The live entry of a ``licensed()`` block's license, or ``None`` (no login: a
        sync block inside a running event loop opens only on a session already live)."""
        return self._table.live(self._login_flow.slot(license_key, hwid_override, license_file))

    def _close_block(self, block: Block) -> None:
        """The block left: the last block out of a session it opened logs that session out."""
        ended: Entry | None = None
        with self._table.lock:
            entry = self._table.entries.get(block.slot)
            if entry is None or entry.session is not block.session:
                return
            try:
                entry.blocks.remove(block)
            except ValueError:
                return
            entry.last_used = time.monotonic()
            if not entry.blocks and entry.close_when_unused and entry.session.active:
                self._drop_locked(entry, "logout")
                ended = entry
        if ended is not None and ended.is_default:
            self._policy.session_ended()

    def _show_session(self, session: Session) -> None:
        """The login flow installed a new default session: the hot path reads it."""
        self._fast_session = session

    def _drop_locked(self, entry: Entry, code: str) -> None:
        """End ``entry`` and take it out of the table (under the table's lock); the hot
        path stops seeing the default session first."""
        if entry.is_default:
            self._fast_session = None
        self._table.drop_locked(entry, code)

    # --------------------------------------------------- background callbacks

    def _session_of(self, block: Block) -> Session:
        """The live session of ``block``'s slot: its own, or (after a fork, or a logout by
        another thread) a new login of the same slot."""
        session = block.session
        if session.active:
            return session
        return self._login_flow.obtain(block.slot).session

    def _check_guarded_call(self, license_key: str | None = None) -> Session:
        """The slow path of a guarded call outside any block of this Guard: make sure of the
        default session (or ``license_key``'s)."""
        loss = self._losses.default_loss
        if loss is not None:
            _blocks.wait_for_hooks(loss)
        self._policy.check_call()
        flow = self._login_flow
        return flow.obtain(flow.slot(license_key, None, None)).session

    async def _acheck_guarded_call(self, license_key: str | None = None) -> Session:
        """``_check_guarded_call`` for coroutines: the loss's cleanup is awaited without
        a thread (never the loop's default executor, the application's), a login runs in
        a worker thread."""
        loss = self._losses.default_loss
        if loss is not None:
            await _blocks.await_hooks(loss)
        self._policy.check_call()
        return await self.aensure(license_key)

    def _forget_refusal(self) -> None:
        """The default license's remembered refusal is forgotten: a key typed again after
        a refusal (``activate``) is a new question, not the old answer."""
        self._table.forget_failure(DEFAULT_SLOT)

    # ------------------------------------------------------------------ hooks

    def on(self, *codes: str, timeout: Any = _UNSET) -> Callable[[F], F]:
        """``@guard.on("revoked", "expired")``: run for a fatal loss with one of these codes.
        ``@guard.on("changed")``: run (on a worker thread, not fatal) when a heartbeat brings
        new license variables; ``event.session`` already reads them (``session.tier``)."""
        if not codes or not all(isinstance(c, str) and c for c in codes):
            raise ValueError("guard.on() needs at least one error code, e.g. 'revoked'")

        def register(fn: F) -> F:
            self._hooks.add_code_hook(codes, fn, timeout)
            return fn

        return register

    @overload
    def on_lost(self, fn: F) -> F: ...
    @overload
    def on_lost(self, *, timeout: float | None = ...) -> Callable[[F], F]: ...

    def on_lost(self, fn: Any = None, *, timeout: Any = _UNSET) -> Any:
        """``@guard.on_lost``: run for any fatal loss (after the code hooks)."""
        return self._register(self._hooks.add_lost_hook, fn, timeout)

    @overload
    def on_transient(self, fn: F) -> F: ...
    @overload
    def on_transient(self, *, timeout: float | None = ...) -> Callable[[F], F]: ...

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

    def _take_hooks_of(self, other: Guard) -> None:
        """Add every hook and pending cleanup of ``other`` to this guard's: ``configure()``
        carries what was registered on the previous default guard (a library's, at import
        time) over to the new one."""
        other._hooks.copy_into(self._hooks)

    def add_cleanup(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` on a fatal loss, after the hooks; last added runs first."""
        self._hooks.add_cleanup(fn, args, kwargs, _UNSET)

    # ----------------------------------------------------- integration sugar
    # The public forms bound to this guard. They sit above this module (they import
    # it), so they are reached through the package's names (``_sugar``), not imported.

    # Typed like the module-level forms, so a decorated function keeps its signature
    # under mypy --strict and pyright.

    @overload
    def requires_license(self, fn: F) -> F: ...
    @overload
    def requires_license(
        self,
        fn: None = None,
        *,
        license_key: str | None = None,
        on_refused: str | None = None,
    ) -> Callable[[F], F]: ...

    def requires_license(self, fn: Any = None, **options: Any) -> Any:
        """``@guard.requires_license``: ``requires_license`` bound to this guard."""
        return _sugar.public("requires_license")(fn, guard=self, **options)

    def licensed(self, license_key: str | None = None, **options: Any) -> _LicensedBlock:
        """``with guard.licensed(key) as session:``: ``licensed`` bound to this guard."""
        block: _LicensedBlock = _sugar.public("licensed")(license_key, guard=self, **options)
        return block

    def feature(self, name: str, *, fallback: Callable[..., Any] | None = None) -> Callable[[F], F]:
        """``@guard.feature("pro")``: ``feature`` bound to this guard."""
        gate: Callable[[F], F] = _sugar.public("feature")(name, guard=self, fallback=fallback)
        return gate

    def has_feature(self, name: str) -> bool:
        return bool(_sugar.public("has_feature")(name, guard=self))


# A forked child must not run on its parent's sessions: its Guards forget them.
_GUARDS: weakref.WeakSet[Guard] = weakref.WeakSet()


def _reset_guards_after_fork() -> None:
    for guard in list(_GUARDS):
        guard._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_guards_after_fork)
