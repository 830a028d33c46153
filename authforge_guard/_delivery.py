"""Where a loss reaches the code inside ``licensed()`` blocks.

Each active block is registered with the thread (and asyncio task) running it.
When its session is lost, ``LicenseLost`` is raised inside it:
- in the main thread, at once, even while it sleeps or waits on input, by a
  signal whose handler raises (see ``_interrupts``);
- in an asyncio task, by cancelling that task; the block turns the
  ``CancelledError`` into ``LicenseLost``;
- in any other thread, at its next guarded call, and at the block's exit.
A loss is raised once per thread; a block that sees it propagate does not
raise it again. A thread that meets the loss while the hooks still run (a
guarded call, a block exit) waits for them first: otherwise the program could
leave the block and exit while a cleanup is still saving the user's work.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, List, Optional

from . import _interrupts
from ._exceptions import LicenseLost
from ._hooks import running_hook

if TYPE_CHECKING:  # asyncio loads only in programs that use it
    import asyncio


@dataclass(eq=False)
class Block:
    """One active ``licensed()`` block."""

    lineage: int
    thread_ident: int
    is_main: bool
    loop: Optional[asyncio.AbstractEventLoop] = None
    task: Optional[asyncio.Task[Any]] = None
    lost: Optional[LicenseLost] = None
    delivered: bool = False
    cancelled_by_us: bool = False
    interrupts: bool = False
    active: bool = True


class Delivery:
    """The active blocks of one Guard, and how to reach each of them."""

    def __init__(self, *, interrupt: bool, signum: Optional[int]) -> None:
        self.interrupt = interrupt
        self.signum = signum
        self._lock = threading.Lock()
        self._blocks: List[Block] = []
        # Cleared by the Guard while a loss runs its hooks.
        self.hooks_idle = threading.Event()
        self.hooks_idle.set()

    def after_fork(self) -> None:
        """In a forked child: fresh lock, only the forking thread's blocks, no hooks running
        (they run on in the parent)."""
        self._lock = threading.Lock()
        ident = threading.get_ident()
        self._blocks = [b for b in self._blocks if b.thread_ident == ident]
        self.hooks_idle.set()

    # -- block lifecycle (called by licensed()) --------------------------------
    def enter(self, lineage: int, *, task: Optional[asyncio.Task[Any]] = None) -> Block:
        current = threading.current_thread()
        block = Block(
            lineage=lineage,
            thread_ident=current.ident or 0,
            is_main=current is threading.main_thread(),
            task=task,
            loop=task.get_loop() if task is not None else None,
        )
        if block.is_main and task is None and self.interrupt and self.signum is not None:
            block.interrupts = _interrupts.acquire(self.signum)
        with self._lock:
            self._blocks.append(block)
        return block

    def exit(self, block: Block) -> Optional[LicenseLost]:
        """Deactivate ``block``; the loss it still has to raise, if any."""
        with self._lock:
            block.active = False
            if block in self._blocks:
                self._blocks.remove(block)
            undelivered = block.lost if block.lost is not None and not block.delivered else None
            if undelivered is not None:
                self._mark_thread_delivered(block.thread_ident, block.lineage)
        if block.interrupts and self.signum is not None:
            _interrupts.release(self.signum)
        if undelivered is not None and block.task is None:  # never block an event loop
            self.wait_for_hooks()
        return undelivered

    # -- a loss (called from the heartbeat thread) ------------------------------
    def mark_lost(self, lineage: int, code: str) -> None:
        """Before the hooks run: from now on every guarded call in these blocks raises."""
        with self._lock:
            for block in self._blocks:
                if block.lineage == lineage and block.lost is None:
                    block.lost = LicenseLost(code)

    def interrupt_blocks(self, lineage: int) -> None:
        """After the hooks: raise the loss inside blocks that are busy or blocked."""
        with self._lock:
            targets = [
                b for b in self._blocks if b.lineage == lineage and b.lost and not b.delivered
            ]
        signalled_main = False
        for block in targets:
            if block.task is not None and block.loop is not None:
                block.loop.call_soon_threadsafe(self._cancel_task, block)
            elif (
                block.is_main
                and block.interrupts
                and not signalled_main
                and self.signum is not None
            ):
                signalled_main = _interrupts.interrupt_main(self.signum, self._resolve_main)

    def _cancel_task(self, block: Block) -> None:
        # Runs in the block's event loop: the block may have exited meanwhile.
        if block.active and block.task is not None and not block.task.done():
            block.cancelled_by_us = True
            block.task.cancel()

    def _resolve_main(self) -> Optional[BaseException]:
        """In the main thread's signal handler: the loss to raise there, once."""
        main = threading.main_thread().ident
        with self._lock:
            for block in reversed(self._blocks):
                if (
                    block.thread_ident == main
                    and block.task is None
                    and block.lost is not None
                    and not block.delivered
                ):
                    lost = block.lost
                    self._mark_thread_delivered(main or 0, block.lineage)
                    return lost
        return None

    def take_pending_for_current_thread(self) -> Optional[LicenseLost]:
        """At a guarded call: the loss this thread has yet to see, marked as seen."""
        ident = threading.get_ident()
        found: Optional[Block] = None
        with self._lock:
            for block in self._blocks:
                if (
                    block.thread_ident == ident
                    and block.task is None
                    and block.lost is not None
                    and not block.delivered
                ):
                    self._mark_thread_delivered(ident, block.lineage)
                    found = block
                    break
        if found is None:
            return None
        self.wait_for_hooks()
        return found.lost

    def wait_for_hooks(self) -> None:
        """Until a loss's hooks have run (each has its own timeout); at once inside a hook,
        which may itself call guarded code."""
        if not running_hook():
            self.hooks_idle.wait()

    def mark_seen(self, block: Block) -> None:
        """The block saw its loss propagate (raised by another block or a guarded call)."""
        with self._lock:
            block.delivered = True

    def has_undelivered(self) -> bool:
        with self._lock:
            return any(b.lost is not None and not b.delivered for b in self._blocks)

    def _mark_thread_delivered(self, ident: int, lineage: int) -> None:
        for block in self._blocks:
            if block.thread_ident == ident and block.lineage == lineage:
                block.delivered = True
