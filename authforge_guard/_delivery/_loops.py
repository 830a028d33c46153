"""Posting a loss to the program's own event loop (Tk, Qt): the one place that knows how.

A loss reaches running code in one of three ways, one per kind of runtime:

- a plain main thread (a script, a CLI, a server's main thread): a signal whose
  handler raises ``LicenseLost`` (``_interrupts``), even while it sleeps;
- an asyncio task: the task is cancelled through ``loop.call_soon_threadsafe``
  (``_delivery._blocks``), and the block turns the ``CancelledError`` into the loss;
- a thread that runs a registered event loop (this module): the loss is
  *posted* to that loop, which runs the program's reaction (save, a dialog,
  closing the windows) on its own thread, as Trio's
  ``TrioToken.run_sync_soon`` runs a callable inside Trio.

Why not a signal for a GUI loop: a Python signal handler runs only when the
interpreter runs Python code, and an idle ``mainloop()``/``app.exec()`` runs
none, so the loss waits for the next mouse move (or forever); and when the
handler does run, it raises inside whatever toolkit callback was running,
where Tk and Qt print the exception and carry on. A posted callable wakes the
idle loop (the integration's ``post`` must: a self-pipe the toolkit watches, a
queued Qt signal) and never lands inside someone else's callback.

Why asyncio keeps its own way: asyncio already has the right tool for "stop
this piece of work", task cancellation, which lands at an ``await`` inside the
block and unwinds it with ``finally``; a GUI callback has no such point, so the
only safe reaction there is a new callable on the loop. Both post through the
loop's thread-safe entry; they differ in what is posted.

A posted loss the loop has not taken ``TAKE_WITHIN`` seconds later, while the
loop's thread is running a callback (its current frame is not the one that
runs the loop, which the integration's dispatch records: ``Loop.dispatching``),
means a busy loop (a long computation inside a click handler). Then, in the
main thread, the signal interrupt is the fallback: ``LicenseLost`` is
raised inside that callback, and the integration's toolkit exception hook
(Tk's ``report_callback_exception``, ``sys.excepthook`` for Qt slots) hands it
to ``Loop.receive``, which runs the same reaction. The interrupt is dropped by
the handler once the loop has taken the loss (``Delivery.active``), and while
the integration's own dispatch of posted calls runs (its frames are
``_interrupts.protect``-ed), so a late or early signal never lands in the
reaction itself (the save, the dialog) nor in the call that is about to run it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Callable

from . import _interrupts

if TYPE_CHECKING:
    from .._exceptions import LicenseLost
    from .._guard._session import Loss

logger = logging.getLogger("authforge_guard")

#: How long a loop may take to run a posted loss before its callback is interrupted.
TAKE_WITHIN = 0.25


class Delivery:
    """One loss on its way to a loop: what was lost and the exit code to end with
    (``None``: the integration's own). ``taken`` is set once the loop runs it.

    It has the ``active``/``shield_depth`` of a block, so the signal fallback
    raises only while the loss is still waiting for the loop.
    """

    __slots__ = ("exc", "exit_code", "taken")

    shield_depth = 0

    def __init__(self, exc: LicenseLost, exit_code: int | None) -> None:
        self.exc = exc
        self.exit_code = exit_code
        self.taken = threading.Event()

    @property
    def active(self) -> bool:
        return not self.taken.is_set()


Reaction = Callable[[Delivery], None]


class Loop:
    """A registered event loop: ``post`` (thread-safe, wakes an idle loop) and the
    thread that runs it. ``react`` is the integration's reaction to a loss, run on
    that thread once per loss."""

    __slots__ = ("_lock", "idle_frame", "pending", "post", "react", "signum", "thread_ident")

    def __init__(
        self,
        post: Callable[[Callable[[], None]], None],
        react: Reaction,
        thread_ident: int,
        signum: int | None,
    ) -> None:
        self.post = post
        self.react = react
        self.thread_ident = thread_ident
        self.signum = signum  # held while registered (main thread only), for the fallback
        self.pending: Delivery | None = None
        # The frame that runs the loop (its ``mainloop()`` / ``exec()`` call): while the
        # loop's thread sits in it, the loop is idle, and an idle loop is never signalled.
        self.idle_frame: FrameType | None = None
        self._lock = threading.Lock()

    def dispatching(self) -> None:
        """Called by the integration's dispatch of posted calls (on the loop's thread, called
        by the toolkit): the frame below it is the one that runs the loop."""
        import inspect  # here, not at the top: only a GUI program pays for it

        frame = inspect.currentframe()  # this call's frame (None without frame support)
        dispatch = frame.f_back if frame is not None else None
        self.idle_frame = dispatch.f_back if dispatch is not None else None

    @_interrupts.protect  # a fallback interrupt arriving now is dropped: this is the loss
    def take(self, delivery: Delivery) -> None:
        """On the loop's thread: run the reaction to ``delivery`` unless it ran already."""
        with self._lock:
            if delivery.taken.is_set():
                return
            delivery.taken.set()
            if self.pending is delivery:
                self.pending = None
        self.react(delivery)

    def receive(self, exc: LicenseLost) -> None:
        """On the loop's thread, from the toolkit's exception hook: ``LicenseLost`` came out
        of a callback. It is the waiting loss (the fallback interrupt), or a guarded call
        that met a loss: either way the program reacts, nothing is printed."""
        with self._lock:
            delivery = self.pending
        self.take(delivery if delivery is not None else Delivery(exc, None))

    def deliver(self, exc: LicenseLost, exit_code: int | None) -> Delivery:
        """From any thread: post ``exc``; interrupt the loop's callback if it is not taken
        within ``TAKE_WITHIN`` seconds."""
        delivery = Delivery(exc, exit_code)
        with self._lock:
            if self.pending is None:
                self.pending = delivery
        try:
            self.post(lambda: self.take(delivery))
        except Exception:  # a closed loop: the interrupt (or the block's exit) remains
            logger.warning("authforge_guard: could not post the loss to the event loop")
        timer = threading.Timer(TAKE_WITHIN, self._interrupt, (delivery,))
        timer.daemon = True
        timer.name = "authforge-loop-fallback"
        timer.start()
        return delivery

    def _interrupt(self, delivery: Delivery) -> None:
        # A timer thread, TAKE_WITHIN after the post: signal only a loop that is busy
        # running a callback; an idle one (merely slow to be scheduled) takes the post.
        while not delivery.taken.is_set() and self.signum is not None:
            if self._busy():
                logger.info("authforge_guard: the event loop is busy; interrupting its callback")
                _interrupts.interrupt_main(self.signum, _interrupts.Request(delivery.exc, delivery))
                return
            delivery.taken.wait(TAKE_WITHIN)

    def _busy(self) -> bool:
        """True while the loop's thread runs Python code other than the loop's own frame (a
        callback); unknown (no dispatch seen yet) counts as busy.

        ``sys._current_frames`` is the one way to see another thread's frame (no public
        API does; CONTRIBUTING lists it under "Borrowed internals")."""
        frame = sys._current_frames().get(self.thread_ident)
        return frame is None or self.idle_frame is None or frame is not self.idle_frame


_registry: dict[int, Loop] = {}
_registry_lock = threading.Lock()


def register(
    post: Callable[[Callable[[], None]], None],
    react: Reaction,
    *,
    signum: int | None,
) -> Loop:
    """Register the loop the calling thread runs (call it on that thread). ``signum`` is
    the interrupt signal for the busy-loop fallback (main thread only; ``None``: none)."""
    ident = threading.get_ident()
    held = signum if signum is not None and _interrupts.acquire(signum) else None
    loop = Loop(post, react, ident, held)
    with _registry_lock:
        previous = _registry.get(ident)
        _registry[ident] = loop
    if previous is not None and previous.signum is not None:
        _interrupts.release(previous.signum)
    return loop


def unregister(loop: Loop) -> None:
    """The loop ended: losses go the ordinary way again."""
    with _registry_lock:
        if _registry.get(loop.thread_ident) is not loop:
            return
        del _registry[loop.thread_ident]
    if loop.signum is not None:
        signum, loop.signum = loop.signum, None
        _interrupts.release(signum)


def loop_of(thread_ident: int) -> Loop | None:
    """The loop registered for that thread, if any."""
    return _registry.get(thread_ident)


def deliver(thread_ident: int, exc: LicenseLost) -> bool:
    """Post ``exc`` to the loop run by ``thread_ident``; False when that thread runs none."""
    loop = _registry.get(thread_ident)
    if loop is None:
        return False
    loop.deliver(exc, None)
    return True


def exit_through_loop(loss: Loss, exit_code: int, grace: float) -> bool:
    """``on_lost="exit"`` with a loop in the main thread: the loop closes the app (its
    reaction ends with ``exit_code``), so ``finally`` and ``atexit`` run. False without one.

    If the loop never takes the loss (its thread stuck outside Python), the process
    ends with ``os._exit(exit_code)`` after ``grace`` seconds, the last resort."""
    main = threading.main_thread().ident
    loop = _registry.get(main) if main is not None else None
    if loop is None:
        return False
    delivery = loop.deliver(loss.exception(0), exit_code)

    def last_resort() -> None:
        if not delivery.taken.wait(grace):
            logger.critical("authforge_guard: the event loop did not react; exiting now")
            exit_now(exit_code)

    threading.Thread(target=last_resort, name="authforge-exit-watchdog", daemon=True).start()
    return True


def _forget_loops_in_child() -> None:
    # A forked child runs no event loop of ours, though its main thread may have the
    # parent's ident: a loss in the child must not be posted to the parent's loop (a
    # pipe or socket the child shares with it) nor wait for a reaction that never runs.
    global _registry_lock
    _registry_lock = threading.Lock()
    _registry.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_loops_in_child)


def exit_now(code: int) -> None:
    """``os._exit(code)`` after flushing what can be flushed: the last resort only."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # None, closed, or broken: the exit comes first
            stream.flush()
    logging.shutdown()
    os._exit(code)
