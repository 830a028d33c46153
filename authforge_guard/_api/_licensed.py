"""``licensed()``: a block of licensed work, as ``with`` or ``async with``.

Each ``(license key, hwid)`` has its own session; blocks on one session are
counted across threads and tasks, so the session lives while any block uses
it. For the default license, the last block out logs out if a block logged
in; a per-user session (another key, or ``hwid_override``) stays for reuse
until it has been idle for ``session_idle_timeout``. If the license is lost
inside, the hooks run and ``LicenseLost`` is raised inside the block (see
``_delivery._blocks`` for how it reaches the main thread, an asyncio task, or another
thread), and again at the block's exit if the code inside swallowed it.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import TYPE_CHECKING, NoReturn

from .._delivery import _blocks, _interrupts
from .._exceptions import ConfigurationError, LicenseError, LicenseLost
from .._guard._facade import Guard
from ._default_guard import DEFAULT, get_guard
from ._refusal import check_on_refused, exit_for, on_refused_of, support_hint_of

if TYPE_CHECKING:
    from .._delivery._blocks import Block
    from .._guard._session import Session


class licensed:  # lower case: it reads like a function, `with licensed(key):`
    """``with licensed(key) as session:`` / ``async with licensed(key) as session:``.

    ``license_key`` and ``license_file`` default to the guard's settings; with
    both, the file is tried first and the key is the fallback.
    ``hwid_override`` names the machine (or user, ``"tg:<id>"``) the session
    is for: each ``(key, hwid)`` pair is its own session.
    """

    __slots__ = (
        "_block",
        "_guard",
        "_hwid_override",
        "_license_file",
        "_license_key",
        "_on_refused",
    )

    def __init__(
        self,
        license_key: str | None = None,
        *,
        hwid_override: str | None = None,
        guard: Guard | None = None,
        license_file: str | os.PathLike[str] | None = None,
        on_refused: str | None = None,
    ) -> None:
        if on_refused is not None:  # a block per request: no import when left out
            check_on_refused(on_refused)
        self._on_refused = on_refused
        if guard is not None and not isinstance(guard, Guard):
            raise TypeError(f"licensed(guard=...) takes a Guard, not {type(guard).__name__}")
        self._license_key = license_key
        self._hwid_override = hwid_override
        self._license_file = license_file
        self._guard = guard
        self._block: Block | None = None

    def __repr__(self) -> str:
        return "licensed()" if self._license_key is None else "licensed(<license key>)"

    # -- sync ----------------------------------------------------------------
    # ``on_refused="exit"`` (or the guard's setting): a licensing error at the start or the
    # end of the block is told to the customer and ends the program (see ``_refusal``).
    @_interrupts.protect
    def __enter__(self) -> Session:
        try:
            session: Session = self._enter()
        except _TOLD as exc:
            self._tell(exc, self._guard)
        return session

    @_interrupts.protect
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        guard = self._block.owner if self._block is not None else self._guard
        try:
            self._exit(exc_type, exc, tb)
        except _TOLD as raised:
            self._tell(raised, guard)
        self._tell_passing(exc, guard)

    async def __aenter__(self) -> Session:
        try:
            return await self._aenter()
        except _TOLD as exc:
            self._tell(exc, self._guard)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        guard = self._block.owner if self._block is not None else self._guard
        try:
            await self._aexit(exc_type, exc, tb)
        except _TOLD as raised:
            self._tell(raised, guard)
        self._tell_passing(exc, guard)

    def _tell(self, raised: BaseException, guard: Guard | None) -> NoReturn:
        """Raise ``raised`` on, or (``on_refused="exit"``) the customer's exit instead."""
        told = _told(raised, guard, self._on_refused)
        if told is raised:
            raise raised
        raise told from None

    def _tell_passing(self, exc: BaseException | None, guard: Guard | None) -> None:
        """A licensing error leaving the block from inside it is told the same way."""
        if isinstance(exc, _TOLD):
            told = _told(exc, guard, self._on_refused)
            if told is not exc:
                raise told from None

    @_interrupts.protect
    def _enter(self) -> Session:
        if self._block is not None:
            raise RuntimeError("a licensed() block cannot be entered twice at once")
        active = self._guard if self._guard is not None else get_guard()
        outer = _blocks.current_block()
        lost = _blocks.lost_around(outer)  # no new licensed work inside a lost block
        if lost is not None:
            raise lost
        if _blocks._loop_running():
            entry = active._live_entry(self._license_key, self._hwid_override, self._license_file)
            if entry is None:
                raise RuntimeError(
                    "a login would block the event loop: use `async with licensed(...)` "
                    "in a coroutine"
                )
            # Reached like an async block: by cancelling the task it runs in.
            block = active._open_block(
                self._license_key,
                self._hwid_override,
                self._license_file,
                _blocks._current_task(),
                entry,
            )
        else:
            block = active._open_block(
                self._license_key, self._hwid_override, self._license_file, None
            )
        self._start(block, active)
        lost = _blocks.lost_around(block)  # lost while we registered: no signal came
        if lost is not None:
            self._stop(block, active)
            raise lost
        return block.session

    @_interrupts.protect
    def _exit(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        block = self._block
        if block is None:
            return
        self._block = None
        if exc is not None and _interrupts.EXITS_CAN_BE_SKIPPED:
            _end_skipped_blocks(block)
        self._stop(block, block.owner)
        if block.cancelled_by_us:
            _uncancel(block)
        if block.cancelled_by_us and _is_cancelled(exc):
            # A sync block in a coroutine is reached by cancelling its task too.
            lost = _blocks.lost_around(block)
            if lost is not None:
                raise lost from None
        if isinstance(exc, LicenseLost):
            return  # a loss is already on its way out of the block
        lost = _blocks.lost_around(block)
        if lost is not None:
            raise lost from exc

    # -- async ---------------------------------------------------------------
    async def _aenter(self) -> Session:
        import asyncio

        if self._block is not None:
            raise RuntimeError("a licensed() block cannot be entered twice at once")
        active = self._guard if self._guard is not None else get_guard()
        outer = _blocks.current_block()
        if outer is not None:
            await _blocks.await_loss(outer)
        # Logging in is network I/O: never on the event loop's thread.
        block = await active._aopen_block(
            self._license_key, self._hwid_override, self._license_file, asyncio.current_task()
        )
        self._start(block, active)
        loss = block.session._loss
        if loss is not None:
            self._stop(block, active)
            await _blocks.await_hooks(loss)
            raise loss.exception(block.session.lineage)
        return block.session

    async def _aexit(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        block = self._block
        if block is None:
            return
        self._block = None
        self._stop(block, block.owner)
        if block.cancelled_by_us:
            _uncancel(block)  # leave the task's cancel count as we found it
        if isinstance(exc, LicenseLost):
            return
        cancelled_by_us = block.cancelled_by_us and _is_cancelled(exc)
        for b in block.chain():
            loss = b.session._loss
            if loss is not None:
                await _blocks.await_hooks(loss)
                raise loss.exception(b.session.lineage) from (None if cancelled_by_us else exc)

    # -- shared --------------------------------------------------------------
    def _start(self, block: Block, active: Guard) -> None:
        _blocks.enter(block, interrupt_signal=active._signal)
        self._block = block

    @staticmethod
    def _stop(block: Block, active: Guard) -> None:
        _blocks.leave(block)
        active._close_block(block)


def _end_skipped_blocks(block: Block) -> None:
    """End the blocks inside ``block`` whose ``__exit__`` an exception skipped (Python 3.9,
    ``_interrupts.EXITS_CAN_BE_SKIPPED``): they would otherwise stay current, counted on
    their sessions and holding the interrupt signal for good. Only with an exception on
    its way out: a block that ends normally may have a generator suspended inside a block
    of its own, which is still open and ends when the generator goes on."""
    for inner in _blocks.skipped_inside(block):
        _blocks.leave(inner)
        inner.owner._close_block(inner)


def _is_cancelled(exc: BaseException | None) -> bool:
    import asyncio

    return isinstance(exc, asyncio.CancelledError)


def _uncancel(block: Block) -> None:
    uncancel = getattr(block.task, "uncancel", None)
    if uncancel is not None:  # 3.11+: leave the task's cancel count as we found it
        uncancel()


def current_session() -> Session | None:
    """The innermost ``licensed()`` block's ``Session`` in this thread or asyncio task
    (tasks inherit it from the block that started them), else ``None``."""
    return _blocks.current_session()


_TOLD = (LicenseError, ConfigurationError)  # what on_refused="exit" tells the customer


def _told(exc: BaseException, guard: Guard | None, on_refused: str | None) -> BaseException:
    """``exc`` itself (with the guard's support hint), or with ``on_refused="exit"`` the
    ``SystemExit`` after the customer's lines."""
    active = guard if guard is not None else DEFAULT.guard
    hint = support_hint_of(active)
    if isinstance(exc, (LicenseError, ConfigurationError)):
        exc.support_hint = hint
    if on_refused_of(active, on_refused) == "exit":
        return exit_for(exc, hint)
    return exc
