"""``licensed()``: a block of licensed work, as ``with`` or ``async with``.

Blocks nest and reuse a live session (one login); the outermost block that
logged in logs out when it exits. If the license is lost inside, the hooks run
and ``LicenseLost`` is raised inside the block (see ``_delivery`` for how it
reaches the main thread, an asyncio task, or another thread).
"""

from __future__ import annotations

import asyncio
import os
from types import TracebackType
from typing import TYPE_CHECKING, Optional, Type, Union

from ._exceptions import LicenseLost
from ._guard import get_guard

if TYPE_CHECKING:
    from ._delivery import Block
    from ._guard import Guard
    from ._session import Session


class licensed:  # lower case: it reads like a function, `with licensed(key):`
    """``with licensed(key) as session:`` / ``async with licensed(key) as session:``.

    ``license_key`` and ``license_file`` default to the guard's settings; with
    both, the file is tried first and the key is the fallback.
    """

    def __init__(
        self,
        license_key: Optional[str] = None,
        *,
        guard: Optional[Guard] = None,
        license_file: Optional[Union[str, os.PathLike]] = None,  # type: ignore[type-arg]
    ) -> None:
        from ._decorators import check_guard_argument

        check_guard_argument(guard, "licensed")
        self._license_key = license_key
        self._license_file = license_file
        self._guard = guard
        self._active: Optional[Guard] = None
        self._session: Optional[Session] = None
        self._block: Optional[Block] = None
        self._opened = False

    # -- sync ----------------------------------------------------------------
    def __enter__(self) -> Session:
        if self._block is not None:
            raise RuntimeError("a licensed() block cannot be entered twice at once")
        active = self._guard if self._guard is not None else get_guard()
        session, opened = active._ensure(self._license_key, self._license_file)
        self._begin(active, session, opened, task=None)
        return session

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        undelivered = self._finish(exc)
        if undelivered is not None:
            raise undelivered

    # -- async ---------------------------------------------------------------
    async def __aenter__(self) -> Session:
        if self._block is not None:
            raise RuntimeError("a licensed() block cannot be entered twice at once")
        active = self._guard if self._guard is not None else get_guard()
        loop = asyncio.get_running_loop()
        # Logging in is network I/O: never on the event loop's thread.
        session, opened = await loop.run_in_executor(
            None, active._ensure, self._license_key, self._license_file
        )
        self._begin(active, session, opened, task=asyncio.current_task())
        return session

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        block = self._block
        undelivered = self._finish(exc)
        if block is None or block.lost is None:
            return
        if block.cancelled_by_us and isinstance(exc, asyncio.CancelledError):
            task = block.task
            uncancel = getattr(task, "uncancel", None)
            if uncancel is not None:  # 3.11+: leave the task's cancel count as we found it
                uncancel()
            raise block.lost from None
        if undelivered is not None:
            raise undelivered

    # -- shared --------------------------------------------------------------
    def _begin(
        self,
        active: Guard,
        session: Session,
        opened: bool,
        *,
        task: Optional[asyncio.Task],  # type: ignore[type-arg]
    ) -> None:
        self._active, self._session, self._opened = active, session, opened
        self._block = active._delivery.enter(session.lineage, task=task)

    def _finish(self, exc: Optional[BaseException]) -> Optional[LicenseLost]:
        """Unregister the block, log out if this block logged in, and return a loss that
        still has to be raised here."""
        active, session, block = self._active, self._session, self._block
        self._block = None
        if active is None or session is None or block is None:
            return None
        undelivered = active._delivery.exit(block)
        if isinstance(exc, LicenseLost):
            undelivered = None  # it is already on its way out of the block
        if self._opened and session.active and active._session is session:
            active.logout()
        active._refresh_fast_flag()
        return undelivered
