"""The slow path of every guarded call: which session a decorator, a feature gate or a
framework's request runs on.

Why a module of its own: the answer depends on more than one Guard (the
innermost ``licensed()`` block may belong to another guard than the one
named, and no guard named means the default one), so it sits above both
``_guard._facade`` and ``_default_guard``; the Guard itself only answers for its own
sessions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._delivery import _blocks
from .._delivery._hooks import hook_session
from ._default_guard import get_guard

if TYPE_CHECKING:
    from .._guard._facade import Guard
    from .._guard._session import Session
    from .._guard._sessions import Slot


def resolve_session(guard: Guard | None, license_key: str | None = None) -> Session:
    """The session a guarded call runs on (the slow path of every decorator).

    Inside a ``licensed()`` block: a loss of the block (or a block around it)
    raises again (level-triggered); otherwise the innermost block's session
    serves the call when it belongs to ``guard`` (or no guard was named).
    Outside: ``guard``'s default license, logging in if needed.
    """
    during_hook = hook_session()
    if during_hook is not None:
        # A cleanup saving the user's work may call guarded code: let it, on the
        # session that was just lost.
        return during_hook
    block = _blocks.current_block()
    if block is not None:
        lost = _blocks.lost_around(block)
        if lost is not None:
            raise lost
        if license_key is None:
            for b in block.chain():
                if guard is None or b.owner is guard:
                    return b.owner._session_of(b)  # type: ignore[no-any-return]
    active = guard if guard is not None else get_guard()
    return active._check_guarded_call(license_key)


async def aresolve_session(guard: Guard | None, license_key: str | None = None) -> Session:
    """``resolve_session`` for coroutines: no login on the event loop's thread."""
    during_hook = hook_session()
    if during_hook is not None:
        return during_hook
    block = _blocks.current_block()
    if block is not None:
        await _blocks.await_loss(block)
        if license_key is None:
            for b in block.chain():
                if guard is None or b.owner is guard:
                    if b.session.active:
                        return b.session
                    owner: Guard = b.owner
                    slot: Slot | None = b.slot
                    if slot is None:
                        return await owner.aensure()
                    return await owner.aensure(
                        slot.key, hwid_override=slot.hwid, license_file=slot.file
                    )
    active = guard if guard is not None else get_guard()
    return await active._acheck_guarded_call(license_key)
