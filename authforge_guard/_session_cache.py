"""Where the session is kept between runs: the opt-in session cache (``session_cache=``).

A licensed command-line tool started a hundred times a day should not pay a
hundred validations. With the cache on, the Guard stores each signed session
(the base64 payload exactly as signed, its signature and ``keyId``) in a
per-user file, and the next start resumes from it.

Nothing in the file is believed before the signature verifies against the
trust list and the signed session token names this app, this machine (HWID)
and this license key, with enough lifetime left. So a file edited by hand,
copied from another machine, re-signed with another key, expired or torn is
simply not resumed (the caller logs in, which replaces it); none of that is
ever an error for the user.

Writes go through ``write_atomic`` (a temp file, fsync, rename): two
processes storing at once, or a crash mid-write, leave a whole old file or a
whole new one, never a torn one. A leftover temp file has another name and is
never read. The file holds a live session token, so it is written 0600 in
0700 directories, like any other credential in a user's cache.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import sys
import time
from typing import Any, List, Mapping, NamedTuple, Optional, Union

from ._clock import server_time
from ._exceptions import AuthForgeError
from ._files import read_limited, write_atomic
from ._protocol import SignedSession, TrustList, iso_utc, verify_signed_payload

logger = logging.getLogger("authforge_guard")

FORMAT = "authforge-guard-session/1"
MAX_FILE_BYTES = 64 * 1024
# A session with less than this left is not resumed: the program would lose it
# (session_expired) moments after starting. A fresh login gives a full TTL.
MIN_REMAINING_SECONDS = 300.0
# A session issued further than this ahead of the local clock means the clock
# was set back (to stretch a grace-mode session): not resumed.
MAX_CLOCK_SKEW_SECONDS = 300.0
NO_ENTRY = "no cached session"

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Lookup(NamedTuple):
    """What ``SessionCache.load`` found: a verified session, or why there is none."""

    session: Optional[SignedSession]
    reason: str = ""

    @property
    def missing(self) -> bool:
        """True when there was simply no entry (nothing worth reporting)."""
        return self.reason == NO_ENTRY


def default_cache_root(
    environ: Optional[Mapping[str, str]] = None, platform: str = sys.platform
) -> Optional[str]:
    """The per-user cache directory of this platform, or ``None`` when there is none.

    Linux and other Unixes: ``$XDG_CACHE_HOME`` (only if absolute, as the XDG
    spec says) else ``~/.cache``; macOS: ``~/Library/Caches``; Windows:
    ``%LOCALAPPDATA%``.
    """
    env = os.environ if environ is None else environ
    if platform.startswith("win"):
        local = env.get("LOCALAPPDATA", "").strip()
        return local or _under_home("AppData", "Local")
    if platform == "darwin":
        return _under_home("Library", "Caches")
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    if xdg and os.path.isabs(xdg):
        return xdg
    return _under_home(".cache")


def _under_home(*parts: str) -> Optional[str]:
    home = os.path.expanduser("~")
    if home == "~" or not os.path.isabs(home):
        return None
    return os.path.join(home, *parts)


def _app_component(app_id: str) -> str:
    """The app id as a file-name part: itself when it is a plain name, else a hash of it."""
    if _SAFE_NAME.fullmatch(app_id) and app_id not in (".", ".."):
        return app_id
    return "app-" + hashlib.sha256(app_id.encode("utf-8")).hexdigest()[:32]


def _same(value: Any, expected: str) -> bool:
    return isinstance(value, str) and hmac.compare_digest(
        value.encode("utf-8"), expected.encode("utf-8")
    )


class SessionCache:
    """One directory of cached sessions for one app: locate, load (verified), store, forget.

    Never raises for anything on disk: a bad entry is a ``Lookup`` with a
    reason, a directory that cannot be written is logged once and the cache
    stops writing for the rest of the process.
    """

    def __init__(
        self, directory: str, app_id: str, *, private_dirs: Optional[List[str]] = None
    ) -> None:
        self.directory = directory
        self.app_id = app_id
        # The directories this cache creates 0700 (outermost first), when missing.
        self._private_dirs = private_dirs if private_dirs is not None else [directory]
        self._writable = True

    @classmethod
    def from_setting(
        cls,
        setting: Union[bool, str],
        app_id: str,
        environ: Optional[Mapping[str, str]] = None,
    ) -> Optional[SessionCache]:
        """The cache a ``session_cache`` setting asks for: ``True`` is the per-user
        default ``<cache>/authforge-guard/<app id>/``, a path is that directory as is,
        ``False`` (or no usable home directory) is none."""
        if setting is False:
            return None
        if setting is not True:
            return cls(os.path.abspath(os.path.expanduser(setting)), app_id)
        root = default_cache_root(environ)
        if root is None:
            logger.warning(
                "authforge_guard: no per-user cache directory (no home directory); "
                "carrying on without the session cache"
            )
            return None
        parent = os.path.join(root, "authforge-guard")
        directory = os.path.join(parent, _app_component(app_id))
        return cls(directory, app_id, private_dirs=[parent, directory])

    def __repr__(self) -> str:
        return f"SessionCache({self.directory!r})"

    # ---------------------------------------------------------------- locate

    def path_for(self, license_key: str) -> str:
        """The entry for ``license_key``: named by the app and a hash of the key, never the
        key itself (file names show up in listings, backups and logs)."""
        digest = hashlib.sha256(license_key.encode("utf-8")).hexdigest()
        return os.path.join(self.directory, f"{_app_component(self.app_id)}-{digest}.session")

    # ------------------------------------------------------------------ load

    def load(
        self,
        license_key: str,
        *,
        trust: TrustList,
        hwid: str,
        now: Optional[float] = None,
    ) -> Lookup:
        """The cached session for ``license_key`` if it is genuine, ours and alive.

        Checks, in order: readable, our format, signature under ``trust``,
        the token names this app, ``hwid`` and ``license_key``, lifetime left.
        """
        try:
            data = read_limited(self.path_for(license_key), MAX_FILE_BYTES)
        except FileNotFoundError:
            return Lookup(None, NO_ENTRY)
        except OSError as exc:
            return Lookup(None, f"unreadable ({exc.strerror or type(exc).__name__})")
        if data is None:
            return Lookup(None, "unreadable (too large)")
        try:
            entry = json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return Lookup(None, "unreadable (not JSON: truncated or edited)")
        if not isinstance(entry, dict) or entry.get("format") != FORMAT:
            return Lookup(None, "unknown format")
        try:
            signed = verify_signed_payload(
                entry.get("payload"),
                entry.get("signature"),
                entry.get("keyId"),
                trust=trust,
                expected_nonce=None,  # an old answer: its nonce is by nature an old one
            )
        except AuthForgeError as exc:
            return Lookup(None, f"not validly signed ({exc.code})")
        reason = self._foreign(signed, license_key, hwid) or _stale(signed, now)
        return Lookup(None, reason) if reason else Lookup(signed)

    def _foreign(self, signed: SignedSession, license_key: str, hwid: str) -> str:
        body = signed.token_body
        if not body:
            return "session token unreadable"
        if not _same(body.get("appId"), self.app_id):
            return "issued to another app"
        if not _same(body.get("hwid"), hwid):
            return "issued to another machine"
        if not _same(body.get("licenseKey"), license_key):
            return "issued for another license key"
        return ""

    # ----------------------------------------------------------- store, forget

    def store(self, license_key: str, signed: SignedSession) -> bool:
        """Keep ``signed`` for the next run (atomic, 0600). False when it could not be written."""
        if not self._writable:
            return False
        entry = {
            "format": FORMAT,
            "storedAt": iso_utc(time.time()),  # for people; never read back
            "keyId": signed.key_id,
            "payload": signed.payload_b64,
            "signature": signed.signature,
        }
        try:
            self._make_private_dirs()
            write_atomic(
                self.path_for(license_key),
                json.dumps(entry, indent=1).encode("utf-8"),
                mode=0o600,
            )
        except OSError as exc:
            self._writable = False
            logger.warning(
                "authforge_guard: cannot write the session cache in %s (%s); "
                "carrying on without it",
                self.directory,
                exc.strerror or type(exc).__name__,
            )
            return False
        return True

    def forget(self, license_key: str) -> None:
        """Delete the entry for ``license_key`` (no entry is fine)."""
        try:
            os.remove(self.path_for(license_key))
        except FileNotFoundError:
            return
        except OSError as exc:
            logger.info(
                "authforge_guard: could not delete the cached session (%s)",
                exc.strerror or type(exc).__name__,
            )
            return
        logger.debug("authforge_guard: cached session deleted")

    def _make_private_dirs(self) -> None:
        first = self._private_dirs[0]
        os.makedirs(os.path.dirname(first), exist_ok=True)
        for directory in self._private_dirs:
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                continue
            os.chmod(directory, 0o700)  # mkdir's mode went through the umask


def _stale(signed: SignedSession, now: Optional[float]) -> str:
    current = time.time() if now is None else now
    left = signed.expires_at - current
    if left <= 0:
        return "expired"
    if left < MIN_REMAINING_SECONDS:
        return f"ends in {left:.0f} s, too soon to resume"
    issued = server_time(signed.payload.get("timestamp"))
    if issued is not None and issued - current > MAX_CLOCK_SKEW_SECONDS:
        return "issued in the future (is the local clock set back?)"
    return ""
