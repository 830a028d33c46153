"""``activate`` and ``deactivate``: the API an app's own "activate" command calls.

Above the guard (they log in on one, the default guard when none is given);
the stored key itself is ``_keystore``'s, which a login reads.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .._exceptions import ConfigurationError, LicenseError
from .._guard._keystore import forget_key, load_key, store_key
from ._decorators import check_guard_argument
from ._default_guard import get_guard
from ._refusal import support_hint_of

if TYPE_CHECKING:
    from .._guard._facade import Guard
    from .._guard._session import Session

logger = logging.getLogger("authforge_guard")


def activate(license_key: str, *, guard: Guard | None = None) -> Session:
    """Check ``license_key`` with AuthForge (a login) and, if it is good, store it for every
    later run of this program on this machine. Returns the live ``Session``.

    Raises ``LicenseError`` when the key is refused or AuthForge cannot be
    reached (nothing is stored then).
    """
    check_guard_argument(guard, "activate")
    active = guard if guard is not None else get_guard()
    key = license_key.strip() if isinstance(license_key, str) else ""
    if not key:
        raise ValueError("activate() needs the license key the customer entered")
    try:
        return _activate(active, key)
    except (LicenseError, ConfigurationError) as exc:
        # The customer reads ``exc.user_message``: it names the vendor's support.
        exc.support_hint = support_hint_of(active)
        raise


def _activate(active: Guard, key: str) -> Session:
    s = active.settings
    if s.license_key is not None or s.license_file is not None:
        # A configured key wins over a stored one: check this one on its own, keep it.
        session = active.ensure(key)
        store_key(s.app_id, key)
        return session
    # The stored key is the default license: store it, then log in as the program will.
    previous = load_key(s.app_id)
    current = active.session
    if current is not None and current.reveal_license_key() != key:
        active.logout()  # the program was running on another key: switch
    store_key(s.app_id, key)
    active._forget_refusal()
    try:
        session = active.ensure()
    except BaseException:
        if previous is not None:
            store_key(s.app_id, previous)
        else:
            forget_key(s.app_id)
        raise
    logger.info("authforge_guard: license key stored (%s)", session.license_key)
    return session


def deactivate(*, guard: Guard | None = None) -> bool:
    """Forget the stored key (and end this process's session on it); True if one was stored."""
    check_guard_argument(guard, "deactivate")
    active = guard if guard is not None else get_guard()
    stored = load_key(active.settings.app_id)
    session = active.session
    if stored is not None and session is not None and session.reveal_license_key() == stored:
        active.logout(forget=True)
    return forget_key(active.settings.app_id)
