"""Where a loss reaches the code inside ``licensed()`` blocks.

Each active block is a ``Block``: the session it runs on, the thread (and
asyncio task) running it, and the block around it (``parent``). The innermost
block is a context variable, so ``current_session()`` and the feature gates
see the block's session in its thread and in the asyncio tasks it starts.

A loss is level-triggered: once a session is lost (``Session._loss``, set in
one step with the session's end), every block on it ends with ``LicenseLost``
at its exit (unless that same loss is already leaving it), every guarded call
inside it raises again, and entering a new block inside it raises. Catching
``LicenseLost`` does not make the program licensed. Besides that, the loss is
pushed into blocks that are busy or blocked, after the hooks ran:
- in the main thread, at once, even while it sleeps or waits on input, by a
  signal whose handler raises (see ``_interrupts``);
- in a thread that runs a registered GUI event loop (Tk, Qt), by posting it to
  that loop, which reacts on its own thread (see ``_loops``);
- in an asyncio task, by cancelling that task; the block turns the
  ``CancelledError`` into ``LicenseLost``;
- any other thread meets it at its next guarded call and at the block's exit.
Anything that meets a loss waits for its hooks first: otherwise the program
could leave the block and exit while a cleanup is still saving the user's work.

``shield()`` defers all of that to the end of a critical section.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._exceptions import LicenseLost
from . import _interrupts, _loops
from ._hooks import running_hook

if TYPE_CHECKING:
    import asyncio

    from .._guard._session import Loss, Session


class Block:
    """One active ``licensed()`` block."""

    __slots__ = (
        "active",
        "cancelled_by_us",
        "interrupts",
        "is_main",
        "loop",
        "owner",
        "parent",
        "session",
        "shield_depth",
        "signum",
        "slot",
        "task",
        "thread_ident",
        "token",
    )

    def __init__(
        self, session: Session, owner: Any, *, task: asyncio.Task[Any] | None = None
    ) -> None:
        current = threading.current_thread()
        self.session = session
        self.owner = owner  # the Guard whose session this is
        self.parent: Block | None = _CURRENT.get()
        self.thread_ident = current.ident or 0
        self.is_main = current is threading.main_thread()
        self.task = task
        self.loop = task.get_loop() if task is not None else None
        self.active = False
        self.shield_depth = 0
        self.cancelled_by_us = False
        self.interrupts = False
        self.signum: int | None = None
        self.token: Token[Block | None] | None = None
        self.slot: Any = None  # which of its Guard's sessions (see Guard._slot)

    def chain(self) -> Iterable[Block]:
        """This block and the blocks around it, innermost first."""
        block: Block | None = self
        while block is not None:
            yield block
            block = block.parent

    def __repr__(self) -> str:
        return f"<Block on {self.session!r}, active={self.active}>"


_CURRENT: ContextVar[Block | None] = ContextVar("authforge_guard_block", default=None)


def current_block() -> Block | None:
    return _CURRENT.get()


def current_session() -> Session | None:
    """The innermost ``licensed()`` block's ``Session`` in this thread or task, else ``None``."""
    block = _CURRENT.get()
    return block.session if block is not None else None


def lost_around(block: Block | None) -> LicenseLost | None:
    """The loss of the innermost lost session among ``block`` and the blocks around it,
    as a fresh ``LicenseLost`` (after its hooks ran), or ``None``."""
    while block is not None:
        session = block.session
        loss = session._loss
        if loss is not None:
            wait_for_hooks(loss)
            return loss.exception(session.lineage)
        block = block.parent
    return None


def wait_for_hooks(loss: Loss) -> None:
    """Until ``loss``'s hooks have run (each has its own timeout); at once inside a hook,
    which may itself call guarded code."""
    if not loss.hooks_done.is_set() and not running_hook():
        loss.hooks_done.wait()


async def await_hooks(loss: Loss) -> None:
    """``wait_for_hooks`` without blocking the event loop, and without a thread: the loss's
    own thread wakes the loop when the hooks are done. Never the loop's default executor,
    which is the application's: full of its jobs, or shut down, it would hold the loss back."""
    if loss.hooks_done.is_set() or running_hook():
        return
    import asyncio

    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(_resolve, done)

    loss.when_hooks_done(wake)
    await done


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # the waiting task may have been cancelled meanwhile
        future.set_result(None)


async def await_loss(block: Block) -> None:
    """Raise the loss of ``block``'s chain, if any, after its hooks (without blocking):
    ``lost_around`` for coroutines."""
    for b in block.chain():
        loss = b.session._loss
        if loss is not None:
            await await_hooks(loss)
            raise loss.exception(b.session.lineage)


# -- entering and leaving ------------------------------------------------------


def enter(block: Block, *, interrupt_signal: int | None) -> None:
    """Make ``block`` the current one; in the main thread (no event loop), arm the signal."""
    if (
        interrupt_signal is not None
        and block.is_main
        and block.task is None
        and not _loop_running()
    ):
        block.interrupts = _interrupts.acquire(interrupt_signal)
        block.signum = interrupt_signal if block.interrupts else None
    block.token = _CURRENT.set(block)
    block.active = True


def leave(block: Block) -> None:
    """Undo ``enter``: the block is no longer current, its signal use released."""
    block.active = False
    token, block.token = block.token, None
    if token is not None:
        try:
            _CURRENT.reset(token)
        except ValueError:  # left in another context (a generator moved between them)
            _CURRENT.set(block.parent)
        around = _CURRENT.get()
        if around is not None and not around.active:
            # The block around this one has already left (a generator suspended inside
            # this block was closed after it): the current block is the nearest one still
            # open, never a stale one whose guard and session a later call would use.
            while around is not None and not around.active:
                around = around.parent
            _CURRENT.set(around)
    if block.interrupts and block.signum is not None:
        block.interrupts = False
        _interrupts.release(block.signum)


def skipped_inside(block: Block) -> list[Block]:
    """The blocks opened inside ``block`` (in this context) whose exit never ran,
    innermost first; empty when ``block`` is the current one.

    A ``with`` statement's ``__exit__`` can be skipped: on Python 3.9 an exception raised
    by a signal handler right after a ``with`` body, before the call of its ``__exit__``
    (bpo-29988; a real Ctrl-C there), leaves that block current, counted on its session
    and holding the interrupt signal. A generator suspended inside a block of its own
    leaves the same picture, and that block is still open: the caller tells them apart."""
    skipped = []
    current = _CURRENT.get()
    while current is not None and current is not block:
        skipped.append(current)
        current = current.parent
    return skipped if current is block else []


# -- pushing a loss into running blocks (after its hooks) -----------------------


def interrupt(blocks: Iterable[Block], loss: Loss) -> None:
    """Raise ``loss`` inside each of ``blocks`` that can be reached now."""
    signalled_main = False
    posted: set[int] = set()
    for block in blocks:
        if not block.active:
            continue
        if block.task is None and block.thread_ident in posted:
            continue
        if block.task is None and _loops.deliver(
            block.thread_ident, loss.exception(block.session.lineage)
        ):
            posted.add(block.thread_ident)  # one reaction per loop, never a signal first
        elif block.task is not None and block.loop is not None:
            with contextlib.suppress(RuntimeError):  # a closed loop: the block went with it
                block.loop.call_soon_threadsafe(_cancel_task, block)
        elif block.interrupts and block.signum is not None and not signalled_main:
            request = _interrupts.Request(loss.exception(block.session.lineage), block)
            signalled_main = _interrupts.interrupt_main(block.signum, request)


def _cancel_task(block: Block) -> None:
    # Runs in the block's event loop: the block may have exited or be shielded.
    task = block.task
    if block.active and not block.shield_depth and task is not None and not task.done():
        block.cancelled_by_us = True
        task.cancel()


# -- shield() -------------------------------------------------------------------


class shield:  # lower case: it reads like a function, `with shield():`
    """``with shield():`` / ``async with shield():``: no ``LicenseLost`` is pushed into the
    code inside; a loss that arrives meanwhile is raised when the shield exits.

    Use it around work that must complete once started, such as a ``finally``
    that saves a document. Guarded calls made inside still raise a loss that
    has already happened (a shield defers interruptions, it does not license).
    """

    __slots__ = ("_blocks",)

    def __init__(self) -> None:
        self._blocks: list[Block] | None = None

    @_interrupts.protect
    def __enter__(self) -> shield:
        self._begin()
        return self

    @_interrupts.protect
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lost = self._end(exc)
        if lost is not None:
            raise lost from exc

    async def __aenter__(self) -> shield:
        self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        blocks = self._release()
        loss_block = _first_lost(blocks)
        if loss_block is None or isinstance(exc, LicenseLost):
            return
        loss = loss_block.session._loss
        assert loss is not None
        await await_hooks(loss)
        raise loss.exception(loss_block.session.lineage) from exc

    def _begin(self) -> None:
        if self._blocks is not None:
            raise RuntimeError("a shield() cannot be entered twice at once")
        block = _CURRENT.get()
        mine = [b for b in block.chain() if _owned_here(b)] if block is not None else []
        for b in mine:
            b.shield_depth += 1
        self._blocks = mine

    def _release(self) -> list[Block]:
        blocks, self._blocks = self._blocks or [], None
        for b in blocks:
            b.shield_depth -= 1
        return blocks

    def _end(self, exc: BaseException | None) -> LicenseLost | None:
        blocks = self._release()
        if isinstance(exc, LicenseLost) or _first_lost(blocks) is None:
            return None
        return lost_around(blocks[0]) if blocks else None


def _first_lost(blocks: list[Block]) -> Block | None:
    for b in blocks:
        if b.session._loss is not None:
            return b
    return None


def _owned_here(block: Block) -> bool:
    if block.thread_ident != threading.get_ident():
        return False
    if block.task is None:
        return True
    return block.task is _current_task()


def _current_task() -> Any:
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _loop_running() -> bool:
    """Whether this thread runs an asyncio loop (asyncio's public ``get_running_loop``)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:  # not imported: no loop can be running
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
