"""Where a loss reaches the user's code first: hooks, in a fixed order, each one isolated.

On a fatal loss: the hooks for that code, then ``on_lost`` hooks, then
cleanups last-registered-first (like ``ExitStack``). Every hook runs even if an
earlier one raised (the error is logged with its traceback), and a hook with a
timeout cannot hold the program forever: it runs on its own thread and is
abandoned, with an error logged, when its time is up.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

from .._records import Record

if TYPE_CHECKING:
    from .._guard._session import Session

logger = logging.getLogger("authforge_guard")


class LicenseEvent(Record):
    """What happened to the license, handed to every hook.

    ``reason`` is ``"lost"`` (fatal), ``"transient"``, or ``"changed"`` (a
    heartbeat brought new license variables, a tier change: ``code`` is
    ``"changed"`` too, and ``session`` already reads the new values); ``code``
    the AuthForge code (``revoked``, ``network_error``, ...); ``session`` the
    session it happened to (already ended when ``fatal``).
    """

    __slots__ = ("code", "exception", "fatal", "reason", "session")
    _hidden = frozenset({"exception"})

    reason: str
    code: str
    fatal: bool
    exception: BaseException | None
    session: Session | None

    def __init__(
        self,
        reason: str,
        code: str,
        fatal: bool,
        exception: BaseException | None = None,
        session: Session | None = None,
    ) -> None:
        self._assign(reason=reason, code=code, fatal=fatal, exception=exception, session=session)

    @property
    def hwid(self) -> str | None:
        """Whose license it was: the session's HWID (``tg:<user id>`` for a chat user's
        session), so one hook serving many users can tell them apart; ``None`` without a
        session."""
        session = self.session
        return session.hwid if session is not None else None


class _Hook(Record):
    __slots__ = ("args", "call", "kwargs", "timeout")

    call: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    timeout: float | None

    def __init__(
        self,
        call: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        self._assign(call=call, args=args, kwargs={} if kwargs is None else kwargs, timeout=timeout)

    @property
    def name(self) -> str:
        return getattr(self.call, "__qualname__", None) or repr(self.call)


_UNSET: Any = object()

#: The code of the event a heartbeat with new license variables raises: ``guard.on("changed")``.
CHANGED = "changed"


class HookRegistry:
    """The hooks of one Guard. Registration is thread-safe; running takes a snapshot."""

    def __init__(self, default_timeout: float | None) -> None:
        self.default_timeout = default_timeout
        self._lock = threading.Lock()
        self._by_code: dict[str, list[_Hook]] = {}
        self._on_lost: list[_Hook] = []
        self._on_transient: list[_Hook] = []
        self._cleanups: list[_Hook] = []

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (a thread may have held it at the fork)."""
        self._lock = threading.Lock()

    def copy_into(self, target: HookRegistry) -> None:
        """Add every hook and pending cleanup of this registry to ``target``, in their
        order (the default guard's hooks, carried to the guard ``configure()`` makes)."""
        if target is self:
            return
        with self._lock:
            by_code = {code: list(hooks) for code, hooks in self._by_code.items()}
            lost, transient = list(self._on_lost), list(self._on_transient)
            cleanups = list(self._cleanups)
        with target._lock:
            for code, hooks in by_code.items():
                target._by_code.setdefault(code, []).extend(hooks)
            target._on_lost.extend(lost)
            target._on_transient.extend(transient)
            target._cleanups.extend(cleanups)

    def _timeout(self, timeout: Any) -> float | None:
        return self.default_timeout if timeout is _UNSET else timeout

    def add_code_hook(self, codes: tuple[str, ...], fn: Callable[..., Any], timeout: Any) -> None:
        hook = _Hook(fn, timeout=self._timeout(timeout))
        with self._lock:
            for code in codes:
                self._by_code.setdefault(code, []).append(hook)

    def add_lost_hook(self, fn: Callable[..., Any], timeout: Any) -> None:
        with self._lock:
            self._on_lost.append(_Hook(fn, timeout=self._timeout(timeout)))

    def add_transient_hook(self, fn: Callable[..., Any], timeout: Any) -> None:
        with self._lock:
            self._on_transient.append(_Hook(fn, timeout=self._timeout(timeout)))

    def add_cleanup(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], timeout: Any
    ) -> None:
        with self._lock:
            self._cleanups.append(_Hook(fn, args, kwargs, self._timeout(timeout)))

    def run_fatal(self, event: LicenseEvent) -> None:
        """Code hooks, ``on_lost`` hooks, then cleanups LIFO. Cleanups run once: a cleanup
        is consumed by the loss that ran it, as ``ExitStack`` callbacks are."""
        with self._lock:
            by_code = list(self._by_code.get(event.code, ()))
            lost = list(self._on_lost)
            cleanups, self._cleanups = list(reversed(self._cleanups)), []
        for hook in by_code + lost:
            _run(hook, (event,), {}, event.session)
        for hook in cleanups:
            _run(hook, hook.args, hook.kwargs, event.session)

    def run_changed(self, event: LicenseEvent) -> None:
        """The hooks registered with ``guard.on("changed")``, in order."""
        with self._lock:
            hooks = list(self._by_code.get(CHANGED, ()))
        for hook in hooks:
            _run(hook, (event,), {}, None)

    def run_transient(self, event: LicenseEvent) -> None:
        with self._lock:
            hooks = list(self._on_transient)
        for hook in hooks:
            _run(hook, (event,), {}, None)


def _run(
    hook: _Hook, args: tuple[Any, ...], kwargs: dict[str, Any], session: Session | None
) -> None:
    """Run one hook; log, never propagate, what it raises; give up after its timeout."""
    if hook.timeout is None:
        _call_logged(hook, args, kwargs, session)
        return
    runner = threading.Thread(
        target=_call_logged,
        args=(hook, args, kwargs, session),
        name=f"authforge-hook:{hook.name}",
        daemon=True,
    )
    runner.start()
    runner.join(hook.timeout)
    if runner.is_alive():
        logger.error(
            "authforge_guard: hook %s still running after %.1fs; moving on without it",
            hook.name,
            hook.timeout,
        )


_running = threading.local()


def running_hook() -> bool:
    """True in a thread that is running one of our hooks right now."""
    return getattr(_running, "depth", 0) > 0


def hook_session() -> Session | None:
    """In a thread running a loss's hook: the session that was lost (a cleanup that saves
    the user's work may call guarded code on it). Else ``None``."""
    if getattr(_running, "depth", 0) > 0:
        return getattr(_running, "session", None)
    return None


def _call_logged(
    hook: _Hook, args: tuple[Any, ...], kwargs: dict[str, Any], session: Session | None
) -> None:
    outer = getattr(_running, "session", None)
    _running.depth = getattr(_running, "depth", 0) + 1
    _running.session = session
    try:
        hook.call(*args, **kwargs)
    except BaseException:  # a hook's SystemExit must not end the background thread either
        logger.exception("authforge_guard: hook %s raised", hook.name)
    finally:
        _running.depth -= 1
        _running.session = outer
