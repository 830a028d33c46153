"""What a Guard does when one of its sessions is lost: end it, mark its blocks lost in
the same step, run the hooks, then apply ``on_lost``.

Why a part of its own: a loss arrives from three places (a refused check, the
session's signed end, another instance's report through the session store)
and must do the same thing from each, exactly once, with nothing running
between "ended" and "lost". What ``on_lost`` then does lives in ``_policy``;
how the loss reaches running code in ``_delivery._blocks``; the hooks in ``_hooks``.

``LossPath`` is an object the Guard holds (``guard._losses``): it is given
the Guard's session table, upstream (the stores to tell), hooks and policy,
and the Guard's way to drop an entry (a weak call: the Guard also takes the
session off its hot path). The checks call ``lose``; the store's watcher
``lost_elsewhere``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Callable

from .._delivery import _blocks
from .._delivery._hooks import HookRegistry, LicenseEvent
from .._exceptions import AuthForgeError
from ._session import Loss

if TYPE_CHECKING:
    from .._delivery._blocks import Block
    from ._policy import LossPolicy
    from ._session_table import SessionTable
    from ._sessions import Entry
    from ._upstream import Upstream

logger = logging.getLogger("authforge_guard")


class LossPath:
    """Ends a lost session and runs what follows (hooks, ``on_lost``) off the caller's thread."""

    def __init__(
        self,
        table: SessionTable,
        upstream: Upstream,
        hooks: HookRegistry,
        policy: LossPolicy,
        drop_locked: Callable[[Entry, str], None],
    ) -> None:
        self._table = table
        self._upstream = upstream
        self._hooks = hooks
        self._policy = policy
        self._drop_locked = drop_locked
        # The default session's latest loss: guarded calls outside blocks wait for its
        # hooks, so a program sees the loss only after its cleanup ran.
        self.default_loss: Loss | None = None

    def lost_elsewhere(self, key: str, hwid: str, code: str) -> None:
        """Another instance saw a definitive loss of ``(key, hwid)`` (the store's thread)."""
        with self._table.lock:
            found = [
                e
                for e in self._table.entries.values()
                if e.key == key and e.hwid == hwid and e.session.kind == "online"
            ]
        for entry in found:
            self.lose(entry, AuthForgeError(code))

    def lose(self, entry: Entry, error: AuthForgeError) -> None:
        """A fatal loss of ``entry``: end it and mark its blocks lost in one step, then run
        the hooks in order and apply ``on_lost`` (on a thread of its own)."""
        with self._table.lock:
            session = entry.session
            loss = Loss(error.code, error, raises=self._policy.raises or not entry.is_default)
            if not session._end(error.code, loss):
                return  # already ended (logout, an earlier loss): nothing to report
            self._drop_locked(entry, error.code)
            if entry.is_default:
                self.default_loss = loss
            blocks = list(entry.blocks)
        # From here on nothing runs between "ended" and "lost": they were one write.
        threading.Thread(
            target=self._after_loss,
            args=(entry, loss, blocks),
            name="authforge-loss",
            daemon=True,
        ).start()

    def _after_loss(self, entry: Entry, loss: Loss, blocks: list[Block]) -> None:
        session = entry.session
        error = loss.error
        policy = self._policy if entry.is_default else None
        try:
            logger.error(
                "authforge_guard: license lost (%s)%s",
                loss.code,
                "" if entry.is_default else " for a per-user session",
            )
            fleet = self._upstream.fleet_for(entry.hwid)
            if session.kind == "online" and fleet is not None:
                fleet.lost(entry.key, entry.hwid, loss.code)
            if policy is not None:
                policy.before_hooks(loss.code)
            self._hooks.run_fatal(LicenseEvent("lost", loss.code, True, error, session))
        finally:
            loss.finish_hooks()
        if policy is not None:
            policy.after_hooks(blocks, loss)
        elif loss.raises:
            _blocks.interrupt(blocks, loss)
