"""One session of a ``Guard`` as the Guard keeps it, and a login in flight.

A Guard holds its sessions in a table keyed by ``Slot``: ``None`` for its
default license, else a ``Slot`` record (license key or file, hwid override). Each value is
an ``Entry`` (the public ``Session``, the signed answer it rests on, its
deadline, the blocks using it, its timer jobs). A ``Flight`` is one login in
progress for a slot, shared by every caller that asks for that slot meanwhile,
threads and coroutines alike, so concurrent first calls make one validate.
"""

from __future__ import annotations

import copy as _copy
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from .._base._clock import elapsed
from ._session import build_state

if TYPE_CHECKING:
    import asyncio
    from datetime import datetime

    from .._base._clock import Deadline
    from .._base._scheduler import Job
    from .._delivery._blocks import Block
    from .._protocol import SignedSession
    from ._config import GuardSettings
    from ._session import Session


class Slot(NamedTuple):
    """Which session of a Guard a call means, other than its default license's (``None``,
    ``DEFAULT_SLOT``): a license key or a license file, with the hwid it is sent with."""

    key: str | None  # the license key; None for a license file's session
    hwid: str | None  # the hwid override; None: this machine's
    file: str | None = None  # the license file's path

    @property
    def per_user(self) -> bool:
        """A session for someone other than this machine: a user's or tenant's HWID."""
        return self.hwid is not None and self.file is None


DEFAULT_SLOT: Slot | None = None


class Entry:
    """One session of a Guard and what the Guard keeps about it."""

    __slots__ = (
        "blocks",
        "close_when_unused",
        "confirmed",
        "deadline",
        "expiry_job",
        "heartbeat_job",
        "hwid",
        "key",
        "last_used",
        "session",
        "signed",
        "slot",
    )

    def __init__(self, slot: Slot | None, key: str, hwid: str, session: Session) -> None:
        self.slot = slot
        self.key = key
        self.hwid = hwid
        self.session = session
        self.signed: SignedSession | None = None
        self.deadline: Deadline | None = None
        self.blocks: list[Block] = []
        self.close_when_unused = False
        self.last_used = time.monotonic()
        # When the server last vouched for it (a login, a heartbeat), on the elapsed clock.
        self.confirmed = elapsed()
        self.heartbeat_job: Job | None = None
        self.expiry_job: Job | None = None

    @property
    def is_default(self) -> bool:
        return self.slot is DEFAULT_SLOT

    def cancel_jobs(self) -> None:
        for job in (self.heartbeat_job, self.expiry_job):
            if job is not None:
                job.cancel()
        self.heartbeat_job = self.expiry_job = None


class Flight:
    """One login in progress, shared by every caller that wants the same session."""

    __slots__ = ("_callbacks", "done", "entry", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.entry: Entry | None = None
        self.error: BaseException | None = None
        self._callbacks: list[Callable[[], None]] = []

    def finish(self, entry: Entry | None, error: BaseException | None) -> None:
        self.entry, self.error = entry, error
        self.done.set()
        for callback in self._callbacks:
            callback()

    def result(self) -> Entry:
        self.done.wait()
        if self.error is not None:
            raise copy_error(self.error)
        assert self.entry is not None
        return self.entry

    async def wait_async(self) -> Entry:
        """``result()`` for a coroutine: the event loop is never blocked while waiting."""
        if not self.done.is_set():
            import asyncio

            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()

            def wake() -> None:
                loop.call_soon_threadsafe(_set_once, waiter)

            self._callbacks.append(wake)
            if self.done.is_set():  # finished between the check and the registration
                _set_once(waiter)
            await waiter
        return self.result()


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def copy_error(error: BaseException) -> BaseException:
    """A fresh exception like ``error`` for one more caller (threads never share one).

    The copy keeps what a person debugging a refused login reads: the cause chain
    (``__cause__``, ``__context__``: the TLS reason, the timeout, the server's verdict
    behind ``license refused: ...``) and the attributes (``per_user``, ``support_hint``,
    ``lineage``). Its traceback is its own caller's; the cause keeps the one of the
    login that failed. An error that cannot be rebuilt is shared as it is.
    """
    try:
        copy = _copy.copy(error)
    except Exception:  # a constructor that its own args do not satisfy
        return error
    if type(copy) is not type(error) or copy is error:
        return error
    copy.__dict__.update(vars(error))  # what __reduce__ leaves out (per_user, lineage...)
    notes = getattr(error, "__notes__", None)
    if isinstance(notes, list):
        copy.__notes__ = list(notes)  # type: ignore[attr-defined]  # 3.11+; not shared
    copy.__cause__ = error.__cause__
    copy.__context__ = error.__context__
    copy.__suppress_context__ = error.__suppress_context__
    return copy


def state_for(
    settings: GuardSettings,
    license_variables: dict[str, Any] | None,
    app_variables: dict[str, Any] | None,
    expires: float | None,
    license_expires: datetime | None,
) -> Any:
    """A session's state from a signed answer, read with the Guard's tier and feature
    settings: the same for a login and for each accepted check."""
    return build_state(
        license_variables,
        app_variables,
        expires,
        license_expires_at=license_expires,
        tiers=settings.tiers,
        tier_variable=settings.tier_variable,
        features_variable=settings.features_variable,
    )
