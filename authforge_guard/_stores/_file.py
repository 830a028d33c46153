"""The file session store: one private directory of signed sessions on this machine.

A licensed command-line tool started a hundred times a day should not pay a
hundred validations, and the workers of a prefork server on one machine should
share one login per tenant. Each ``(license key, HWID)`` has one entry file
named by the app and hashes of both; ``verify_entry`` judges it on every load.

Writes go through ``write_atomic`` (a temp file, fsync, rename): two
processes storing at once, or a crash mid-write, leave a whole old file or a
whole new one, never a torn one. A leftover temp file has another name and is
never read. The file holds a live session token, so it is written 0600 in
0700 directories, like any other credential in a user's cache.

Leases (one login, one heartbeat across the processes of this machine) are
small files read and written under an advisory lock (``flock``) on the
directory's ``.lock``; where there is no ``fcntl`` (Windows) every lease is
granted, which is the behaviour without a store. Tombstones are files too, in
``tombstones/``, and ``watch`` polls that folder from a daemon thread.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Callable

from .._base._files import read_limited, user_directory, write_atomic
from .._protocol import SignedSession, TrustList
from ._entry import (
    MARK_STEP_SECONDS,
    MISSING,
    TOMBSTONE_SECONDS,
    Found,
    ended_by,
    entry_for,
    hwid_hash,
    key_hash,
    mark_of,
    tombstone_record,
    verify_entry,
)
from ._report import RefusalLog, closed_store, deliver

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("authforge_guard")

MAX_FILE_BYTES = 64 * 1024
POLL_SECONDS = 0.2  # how often ``watch`` looks for new tombstones

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LEASE_PURPOSE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def app_component(app_id: str) -> str:
    """The app id as a file-name part: itself when it is a plain name, else a hash of it."""
    if _SAFE_NAME.fullmatch(app_id) and app_id not in (".", ".."):
        return app_id
    return "app-" + key_hash(app_id)[:32]


class FileStore:
    """One directory of cached sessions for one app (see the module docstring).

    Never raises for anything on disk: a bad entry is a ``Found`` with a
    reason, a directory that cannot be written is logged once and the store
    stops writing for the rest of the process.
    """

    def __init__(
        self,
        directory: str,
        app_id: str,
        *,
        private_dirs: list[str] | None = None,
        clock: Callable[[], float] = time.time,
        poll_interval: float = POLL_SECONDS,
    ) -> None:
        self.directory = directory
        self.app_id = app_id
        # The directories this store creates 0700 (outermost first), when missing.
        self._private_dirs = private_dirs if private_dirs is not None else [directory]
        self._clock = clock
        self._poll_interval = poll_interval
        self._writable = True
        self._owner = secrets.token_hex(8)  # this instance, in leases and tombstones
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._refusals = RefusalLog("session cache")

    @classmethod
    def default(
        cls,
        app_id: str,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> FileStore | None:
        """The per-user store ``<cache>/authforge-guard/<app id>/``, or ``None`` without a
        home directory (logged)."""
        root = user_directory("cache", environ)
        if root is None:
            logger.warning(
                "authforge_guard: no per-user cache directory (no home directory); "
                "carrying on without the session cache"
            )
            return None
        parent = os.path.join(root, "authforge-guard")
        directory = os.path.join(parent, app_component(app_id))
        return cls(directory, app_id, private_dirs=[parent, directory], clock=clock)

    def __repr__(self) -> str:
        return f"FileStore({self.directory!r})"

    # ---------------------------------------------------------------- locate

    def _stem(self, license_key: str, hwid: str) -> str:
        return f"{app_component(self.app_id)}-{key_hash(license_key)}-{hwid_hash(hwid)}"

    def path_for(self, license_key: str, hwid: str) -> str:
        """The entry for ``(license_key, hwid)``: named by the app and hashes, never the
        key itself (file names show up in listings, backups and logs)."""
        return os.path.join(self.directory, self._stem(license_key, hwid) + ".session")

    @property
    def _tombstone_dir(self) -> str:
        # Apart from the entries: a watcher lists it every poll, whatever the tenant count.
        return os.path.join(self.directory, "tombstones")

    def _tombstone_path(self, license_key: str, hwid: str) -> str:
        return os.path.join(self._tombstone_dir, self._stem(license_key, hwid) + ".tomb")

    def _lease_path(self, license_key: str, hwid: str, purpose: str) -> str:
        if not _LEASE_PURPOSE.fullmatch(purpose):
            raise ValueError("a lease purpose is a short lower-case word")
        return os.path.join(self.directory, f"{self._stem(license_key, hwid)}.{purpose}.lease")

    # ------------------------------------------------------------------ load

    def load(self, license_key: str, hwid: str, *, trust: TrustList) -> Found:
        """The stored session for ``(license_key, hwid)`` if genuine, ours and alive
        (a refusal is logged here)."""
        found = self.lookup(license_key, hwid, trust=trust)
        self._refusals.report(found)
        return found

    def lookup(self, license_key: str, hwid: str, *, trust: TrustList) -> Found:
        """``load`` without the log line (for a caller that reports it itself)."""
        path = self.path_for(license_key, hwid)
        entry, problem = self._read_json(path)
        if entry is None:
            return Found(None, problem)
        now = self._clock()
        found = verify_entry(
            entry, app_id=self.app_id, license_key=license_key, hwid=hwid, trust=trust, now=now
        )
        # Whatever the verdict: a start that saw this time (an entry expired there,
        # say) must keep any later start at an earlier time from resuming the entry.
        seen = mark_of(entry.get("seen"))
        if seen is None or now - seen >= MARK_STEP_SECONDS:
            self._raise_mark(path, entry, now)
        if found.session is None:
            return found
        ended = self._ended_since(license_key, hwid, found.session)
        if ended:
            return Found(None, ended)
        return found

    def _read_json(self, path: str) -> tuple[dict[str, Any] | None, str]:
        try:
            data = read_limited(path, MAX_FILE_BYTES)
        except FileNotFoundError:
            return None, MISSING.reason
        except OSError as exc:
            return None, f"unreadable ({exc.strerror or type(exc).__name__})"
        if data is None:
            return None, "unreadable (too large)"
        try:
            value = json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None, "unreadable (not JSON: truncated or edited)"
        if not isinstance(value, dict):
            return None, "unknown format"
        return value, ""

    def _ended_since(self, license_key: str, hwid: str, signed: SignedSession) -> str:
        """Why a tombstone newer than ``signed`` refuses it, or ``""``."""
        tomb, _problem = self._read_json(self._tombstone_path(license_key, hwid))
        if tomb is None:
            return ""
        return ended_by(tomb, signed, self._clock())

    def _raise_mark(self, path: str, entry: dict[str, Any], now: float) -> None:
        """Move the entry's high-water mark up to ``now``, unless another process
        replaced the entry meanwhile (under the lock where there is one)."""
        if not self._writable:
            return
        try:
            with self._locked():
                current, _problem = self._read_json(path)
                if current is None or current.get("payload") != entry.get("payload"):
                    return
                seen = mark_of(current.get("seen"))
                if seen is not None and seen >= now:
                    return
                current["seen"] = now
                write_atomic(path, json.dumps(current, indent=1).encode("utf-8"), mode=0o600)
        except OSError as exc:
            logger.debug(
                "authforge_guard: could not update the cached session's clock mark (%s)",
                exc.strerror or type(exc).__name__,
            )

    # ----------------------------------------------------------- save, forget

    def save(self, license_key: str, hwid: str, signed: SignedSession) -> None:
        """Keep ``signed`` for the next run (atomic, 0600)."""
        self.save_entry(license_key, hwid, signed)

    def save_entry(self, license_key: str, hwid: str, signed: SignedSession) -> bool:
        """``save``, saying whether the entry was written."""
        if not self._writable:
            return False
        entry = entry_for(
            signed, app_id=self.app_id, license_key=license_key, hwid=hwid, now=self._clock()
        )
        try:
            self._make_private_dirs()
            write_atomic(
                self.path_for(license_key, hwid),
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

    def forget(self, license_key: str, hwid: str) -> None:
        """Delete the entry for ``(license_key, hwid)`` (no entry is fine)."""
        self._remove([self.path_for(license_key, hwid)])

    def forget_key(self, license_key: str) -> None:
        """Delete the entries of ``license_key`` for every HWID (a "sign out" that
        does not know the HWID)."""
        stem = f"{app_component(self.app_id)}-{key_hash(license_key)}-"
        self._remove(glob.glob(os.path.join(glob.escape(self.directory), stem + "*.session")))

    def _remove(self, paths: list[str]) -> None:
        for path in paths:
            try:
                os.remove(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                logger.info(
                    "authforge_guard: could not delete the cached session (%s)",
                    exc.strerror or type(exc).__name__,
                )
                continue
            logger.debug("authforge_guard: cached session deleted")

    # ---------------------------------------------------------------- leases

    def try_lease(self, license_key: str, hwid: str, purpose: str, ttl: float) -> bool:
        """Take (or renew, if ours) the ``purpose`` lease for ``ttl`` seconds; False while
        another live instance holds it."""
        path = self._lease_path(license_key, hwid, purpose)
        if fcntl is None or not self._writable:
            return True  # no coordination possible: behave as without a store
        try:
            self._make_private_dirs()
            with self._locked():
                now = self._clock()
                lease, _problem = self._read_json(path)
                if lease is not None and lease.get("owner") != self._owner:
                    until = mark_of(lease.get("until"))
                    if until is not None and until > now:
                        return False
                data = {"owner": self._owner, "until": now + ttl}
                _write_quick(path, json.dumps(data).encode("utf-8"))
                return True
        except OSError as exc:
            logger.info(
                "authforge_guard: session cache lease unavailable (%s); going ahead",
                exc.strerror or type(exc).__name__,
            )
            return True

    def release_lease(self, license_key: str, hwid: str, purpose: str) -> None:
        """Give the lease back early (only if this instance still holds it)."""
        path = self._lease_path(license_key, hwid, purpose)
        if fcntl is None:
            return
        with contextlib.suppress(OSError), self._locked():
            lease, _problem = self._read_json(path)
            if lease is not None and lease.get("owner") == self._owner:
                os.remove(path)

    # ------------------------------------------------------------ tombstones

    def tombstone(self, license_key: str, hwid: str, code: str) -> None:
        """A definitive loss (``code``): delete the entry, and leave a tombstone that
        refuses older entries and tells other processes' watchers."""
        path = self.path_for(license_key, hwid)
        ended, _problem = self._read_json(path)
        self._remove([path])
        record = tombstone_record(
            license_key, hwid, code, now=self._clock(), owner=self._owner, ended=ended
        )
        try:
            self._make_private_dirs()
            with contextlib.suppress(FileExistsError):
                os.mkdir(self._tombstone_dir, 0o700)
            self._prune_tombstones(record["at"])
            write_atomic(
                self._tombstone_path(license_key, hwid),
                json.dumps(record).encode("utf-8"),
                mode=0o600,
            )
        except OSError as exc:
            logger.info(
                "authforge_guard: could not write a session tombstone (%s)",
                exc.strerror or type(exc).__name__,
            )

    def watch(self, on_tombstone: Callable[[str, str, str], None]) -> None:
        """Call ``on_tombstone(key_hash, hwid, code)`` (from a daemon thread) for each
        tombstone another instance writes from now on."""
        if self._stop.is_set():
            raise closed_store("this file store")
        if self._watcher is not None and self._watcher.is_alive():
            raise RuntimeError("this store is already watched")
        # (A watcher started before a fork is not alive in the child: it may watch again.)
        known = dict(self._tombstones())
        thread = threading.Thread(
            target=self._poll, args=(on_tombstone, known), name="authforge-store-watch", daemon=True
        )
        self._watcher = thread
        thread.start()

    def _tombstones(self) -> Iterator[tuple[str, int]]:
        try:
            with os.scandir(self._tombstone_dir) as entries:
                for item in entries:
                    if item.name.endswith(".tomb"):
                        with contextlib.suppress(OSError):
                            yield item.name, item.stat().st_mtime_ns
        except OSError:
            return

    def _prune_tombstones(self, now: float) -> None:
        """Delete tombstones past their time (when writing one: a rare event)."""
        for name, stamp in list(self._tombstones()):
            if now - stamp / 1e9 > TOMBSTONE_SECONDS:
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self._tombstone_dir, name))

    def _poll(self, on_tombstone: Callable[[str, str, str], None], known: dict[str, int]) -> None:
        while not self._stop.wait(self._poll_interval):
            current = dict(self._tombstones())
            for name, stamp in current.items():
                if known.get(name) == stamp:
                    continue
                record, _problem = self._read_json(os.path.join(self._tombstone_dir, name))
                if record is None or record.get("from") == self._owner:
                    continue
                at = mark_of(record.get("at"))
                if at is not None and self._clock() - at > TOMBSTONE_SECONDS:
                    continue
                hashed, hwid, code = record.get("keyHash"), record.get("hwid"), record.get("code")
                if isinstance(hashed, str) and isinstance(hwid, str) and isinstance(code, str):
                    deliver(on_tombstone, hashed, hwid, code)
            known.clear()
            known.update(current)

    def close(self) -> None:
        """Stop watching (the files stay for the next run)."""
        self._stop.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(5.0)

    # --------------------------------------------------------------- helpers

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The directory's advisory lock (a no-op without ``fcntl``)."""
        if fcntl is None:
            yield
            return
        fd = os.open(os.path.join(self.directory, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _make_private_dirs(self) -> None:
        first = self._private_dirs[0]
        os.makedirs(os.path.dirname(first), exist_ok=True)
        for directory in self._private_dirs:
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                continue
            os.chmod(directory, 0o700)  # mkdir's mode went through the umask


def _write_quick(path: str, data: bytes) -> None:
    """Replace ``path`` whole, without fsync: a lease need not survive a power cut (it
    would have expired by then), and an fsync per lease would cost milliseconds."""
    temp = f"{path}.{secrets.token_hex(6)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp)
        raise
