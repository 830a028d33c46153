"""What a loss does once it is known: the ``on_lost`` policies, each a small strategy.

A fatal loss runs in three steps: ``before_hooks`` (make the loss visible to
guarded calls, which then wait for the hooks), the hooks, ``after_hooks`` (act).
- ``raise``: ``LicenseLost`` inside every ``licensed()`` block of the session;
- ``exit``: ``SystemExit(exit_code)`` in the main thread, so ``finally`` blocks
  and ``atexit`` run; a watchdog ends the process if it does not stop in time;
- ``warn``: a log line, and the program carries on without a license.
"""

from __future__ import annotations

import _thread
import logging
import os
import threading
import time
from typing import Optional

from . import _interrupts
from ._config import GuardSettings
from ._delivery import Delivery

logger = logging.getLogger("authforge_guard")


class LossPolicy:
    """The ``warn`` policy, and the steps every policy has."""

    def session_started(self) -> None:
        """A session began (in the thread that logged in)."""

    def session_ended(self) -> None:
        """The session was logged out."""

    def before_hooks(self, lineage: int, code: str) -> None:
        """The loss is known; the hooks are about to run."""

    def after_hooks(self, lineage: int, code: str) -> None:
        logger.warning("authforge_guard: continuing without a license (on_lost='warn')")

    def check_call(self) -> None:
        """Called by every guarded call that takes the slow path."""


class RaisePolicy(LossPolicy):
    """``LicenseLost`` inside the blocks of the lost session (see ``_delivery``)."""

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery

    def before_hooks(self, lineage: int, code: str) -> None:
        self._delivery.mark_lost(lineage, code)

    def after_hooks(self, lineage: int, code: str) -> None:
        self._delivery.interrupt_blocks(lineage)


class ExitPolicy(LossPolicy):
    """``SystemExit(exit_code)`` in the main thread after the hooks, with a watchdog."""

    def __init__(self, settings: GuardSettings) -> None:
        self.exit_code = settings.exit_code
        self.grace = settings.exit_grace
        # Without interrupts: cooperative, at the main thread's next guarded call.
        self.signum = settings.interrupt_signal if settings.interrupt else None
        self.cooperative = not settings.interrupt
        self._requested = False
        self._handler = False

    def session_started(self) -> None:
        # The handler can only be installed from the main thread: at login.
        if self.signum is not None and not self._handler:
            self._handler = _interrupts.acquire(self.signum)

    def session_ended(self) -> None:
        if self._handler and self.signum is not None:
            _interrupts.release(self.signum)
            self._handler = False

    def before_hooks(self, lineage: int, code: str) -> None:
        self._requested = True  # a guarded call during the hooks waits, then exits

    def after_hooks(self, lineage: int, code: str) -> None:
        threading.Thread(target=self._watchdog, name="authforge-exit-watchdog", daemon=True).start()
        if self.cooperative:
            return
        exit_code = self.exit_code
        if self.signum is None or not _interrupts.interrupt_main(
            self.signum, lambda: SystemExit(exit_code)
        ):
            _thread.interrupt_main()  # no handler of ours: KeyboardInterrupt, then the watchdog

    def check_call(self) -> None:
        if self._requested and threading.current_thread() is threading.main_thread():
            raise SystemExit(self.exit_code)

    def _watchdog(self) -> None:
        time.sleep(self.grace)
        logger.critical("authforge_guard: did not stop within %.1fs; exiting now", self.grace)
        os._exit(self.exit_code)


def policy_for(settings: GuardSettings, delivery: Delivery) -> LossPolicy:
    """The strategy ``settings.on_lost`` names."""
    policy: Optional[LossPolicy] = None
    if settings.on_lost == "raise":
        policy = RaisePolicy(delivery)
    elif settings.on_lost == "exit":
        policy = ExitPolicy(settings)
    return policy if policy is not None else LossPolicy()
