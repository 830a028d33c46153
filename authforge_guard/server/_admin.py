"""Operator actions on the server's database: apps, keys, licenses, credits, offline files.

Used by a running ``AuthForgeServer`` (``server.admin``), by the ``admin``
command (another process on the same file) and by ``LocalAuthForge``. Reads
return plain JSON-ready dicts so the command line can print them as they are.
Apps get their secret shown only by ``create_app`` and by
``app_info(reveal_secret=True)``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Union

from .._protocol import iso_utc, key_id_for, parse_iso_utc
from ._mint import mint_license_file
from ._store import (
    AppRecord,
    LicenseRecord,
    Store,
    add_signing_key,
    app_ids,
    bound_hwids,
    get_app,
    get_license,
    license_keys,
    public_keys,
    set_revoked,
)

Moment = Union[None, int, float, datetime, str]

# License keys: 16 characters of an alphabet without look-alikes (0/O, 1/I), 80 bits.
_KEY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class AdminError(Exception):
    """An operation the database refuses; ``.code`` says why (``invalid_key``, ``revoked``...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AppCredentials:
    """What a client needs to talk to a new app; the secret stays out of ``repr``."""

    app_id: str
    app_secret: str = field(repr=False)
    public_key: str


def to_epoch(value: Moment) -> float | None:
    """Epoch seconds from epoch seconds, a datetime (naive means UTC) or an ISO-8601 string."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a moment must be epoch seconds, a datetime or an ISO-8601 string")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if isinstance(value, str):
        parsed = parse_iso_utc(value)
        if parsed is None:
            raise ValueError(f"not an ISO-8601 date or time: {value!r}")
        return parsed
    raise TypeError("a moment must be epoch seconds, a datetime or an ISO-8601 string")


def _slots(value: int | None) -> int | None:
    """``None`` or 0 means unlimited machines (stored as NULL)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("slots must be a whole number >= 0 (0 or None: unlimited)")
    return value or None


def _variables_json(variables: Mapping[str, Any] | None) -> str:
    if variables is None:
        return "{}"
    if not isinstance(variables, Mapping) or not all(isinstance(k, str) for k in variables):
        raise ValueError("variables must be a mapping with string keys")
    try:
        return json.dumps(dict(variables), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"variables must be JSON values: {exc}") from None


def _credits(value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError("credits must be a whole number >= 0, or None for unlimited")
    return value


def _new_license_key() -> str:
    chars = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))


def _iso_or_none(epoch: float | None) -> str | None:
    return iso_utc(epoch) if epoch is not None else None


class Admin:
    """Operations on one database; each call is one transaction."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    @classmethod
    def open(cls, db_path: str | os.PathLike[str]) -> Admin:
        """An admin on its own connection (the ``admin`` command); ``close()`` it."""
        return cls(Store(db_path))

    def close(self) -> None:
        self._store.close()

    # --- apps -------------------------------------------------------------

    def create_app(
        self,
        name: str = "app",
        *,
        offline_activation: bool = False,
        credits: int | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> AppCredentials:
        """A new app with a fresh secret, token MAC key and Ed25519 signing key."""
        app_id, secret = str(uuid.uuid4()), secrets.token_urlsafe(32)
        variables_json, credits = _variables_json(variables), _credits(credits)
        now = self._clock()
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO apps (id, name, secret, mac_key, offline_activation, credits,"
                " variables, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    app_id,
                    name,
                    secret,
                    secrets.token_bytes(32),
                    int(offline_activation),
                    credits,
                    variables_json,
                    now,
                ),
            )
            key = add_signing_key(conn, app_id, now)
        return AppCredentials(app_id=app_id, app_secret=secret, public_key=key.public_key_b64)

    def list_apps(self) -> list[dict[str, Any]]:
        with self._store.transaction() as conn:
            ids = app_ids(conn)
        return [self.app_info(app_id) for app_id in ids]

    def default_app_id(self) -> str:
        """The database's only app; ``AdminError`` when there are none or several."""
        with self._store.transaction() as conn:
            ids = app_ids(conn)
        if len(ids) != 1:
            raise AdminError(
                "app_required",
                "the database has no app yet" if not ids else "several apps: name one with --app",
            )
        return ids[0]

    def app_info(self, app_id: str, *, reveal_secret: bool = False) -> dict[str, Any]:
        with self._store.transaction() as conn:
            app = self._app(conn, app_id)
            keys = public_keys(conn, app.id)
            (licenses,) = conn.execute(
                "SELECT COUNT(*) FROM licenses WHERE app_id = ?", (app.id,)
            ).fetchone()
        info: dict[str, Any] = {
            "app_id": app.id,
            "name": app.name,
            "disabled": app.disabled,
            "offline_activation": app.offline_activation,
            "credits": app.credits,
            "credits_spent": app.credits_spent,
            "variables": app.variables,
            "key_id": key_id_for(keys[0]),
            "public_key": keys[0],
            "public_keys": keys,
            "licenses": licenses,
            "created_at": iso_utc(app.created_at),
        }
        if reveal_secret:
            info["app_secret"] = app.secret
        return info

    def public_keys(self, app_id: str) -> list[str]:
        """Every key the app ever signed with: the active one first."""
        with self._store.transaction() as conn:
            return public_keys(conn, self._app(conn, app_id).id)

    def rotate_key(self, app_id: str) -> str:
        """Sign with a new key from now on; the old public keys stay listed for trust lists."""
        with self._store.transaction() as conn:
            key = add_signing_key(conn, self._app(conn, app_id).id, self._clock())
        return key.public_key_b64

    def activate_key(self, app_id: str, key: str) -> str:
        """Sign with one of the app's existing keys again (by public key or key id)."""
        with self._store.transaction() as conn:
            app = self._app(conn, app_id)
            match = [k for k in public_keys(conn, app.id) if key in (k, key_id_for(k))]
            if not match:
                raise AdminError("unknown_key", "the app has no such signing key")
            conn.execute(
                "UPDATE signing_keys SET active = (public_key = ?) WHERE app_id = ?",
                (match[0], app.id),
            )
        return match[0]

    def set_app_disabled(self, app_id: str, disabled: bool) -> None:
        self._update_app(app_id, "disabled", int(disabled))

    def set_offline_activation(self, app_id: str, enabled: bool) -> None:
        self._update_app(app_id, "offline_activation", int(enabled))

    def set_app_variables(self, app_id: str, variables: Mapping[str, Any] | None) -> None:
        self._update_app(app_id, "variables", _variables_json(variables))

    def set_credits(self, app_id: str, credits: int | None) -> None:
        """The app's credit balance; ``None`` means unlimited."""
        self._update_app(app_id, "credits", _credits(credits))

    def credits(self, app_id: str) -> dict[str, Any]:
        with self._store.transaction() as conn:
            app = self._app(conn, app_id)
        return {"app_id": app.id, "credits": app.credits, "credits_spent": app.credits_spent}

    # --- licenses -----------------------------------------------------------

    def create_license(
        self,
        app_id: str,
        variables: Mapping[str, Any] | None = None,
        *,
        slots: int | None = 1,
        expires_at: Moment = None,
        label: str | None = None,
    ) -> str:
        """A new license key; ``slots`` 0 or ``None`` allows any number of machines."""
        variables_json, seats = _variables_json(variables), _slots(slots)
        expiry = to_epoch(expires_at)
        with self._store.transaction() as conn:
            app = self._app(conn, app_id)
            for _ in range(8):  # 80 random bits: a collision is only a formality
                key = _new_license_key()
                inserted = conn.execute(
                    "INSERT OR IGNORE INTO licenses (key, app_id, variables, slots, expires_at,"
                    " label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key, app.id, variables_json, seats, expiry, label, self._clock()),
                ).rowcount
                if inserted:
                    return key
        raise RuntimeError("could not draw an unused license key")

    def list_licenses(self, app_id: str) -> list[dict[str, Any]]:
        with self._store.transaction() as conn:
            keys = license_keys(conn, self._app(conn, app_id).id)
        return [self.license_info(key) for key in keys]

    def license_info(self, key: str) -> dict[str, Any]:
        with self._store.transaction() as conn:
            lic = self._license(conn, key)
            hwids = bound_hwids(conn, key)
            offline = [
                row[0]
                for row in conn.execute(
                    "SELECT hwid FROM offline_activations WHERE license_key = ?"
                    " ORDER BY created_at",
                    (key,),
                )
            ]
        return {
            "license_key": lic.key,
            "app_id": lic.app_id,
            "label": lic.label,
            "variables": lic.variables,
            "slots": lic.slots,
            "expires_at": _iso_or_none(lic.expires_at),
            "revoked": lic.revoked,
            "hwids": hwids,
            "offline_activations": offline,
            "validates": lic.validates,
            "heartbeats": lic.heartbeats,
            "credits_spent": lic.credits_spent,
            "created_at": iso_utc(lic.created_at),
        }

    def revoke(self, key: str) -> None:
        """Refuse the license from now on; live sessions learn it at their next heartbeat."""
        with self._store.transaction() as conn:
            set_revoked(conn, self._license(conn, key).key, True)

    def reset_hwids(self, key: str) -> int:
        """Free every online machine slot of the license; returns how many were bound.

        Offline activations are not freed: each one is a file that keeps working.
        """
        with self._store.transaction() as conn:
            lic = self._license(conn, key)
            return conn.execute(
                "DELETE FROM license_hwids WHERE license_key = ?", (lic.key,)
            ).rowcount

    def set_license_variables(self, key: str, variables: Mapping[str, Any] | None) -> None:
        """Replace the license's variables (a tier change); sessions see them at next heartbeat."""
        variables_json = _variables_json(variables)
        with self._store.transaction() as conn:
            conn.execute(
                "UPDATE licenses SET variables = ? WHERE key = ?",
                (variables_json, self._license(conn, key).key),
            )

    def mint_offline_file(
        self,
        key: str,
        *,
        hwids: Sequence[str] | None = None,
        expires_at: Moment = None,
        label: str | None = None,
    ) -> str:
        """A signed ``.authforge`` file for the license, free of credits.

        ``hwids=None`` makes it work on any machine. ``expires_at=None`` takes
        the license's own expiry (lifetime for a perpetual license);
        ``label=None`` the license's label.
        """
        machines = None
        if hwids is not None:
            if isinstance(hwids, str):
                raise TypeError("hwids must be a list of HWID strings, not one string")
            machines = [h.strip() for h in hwids if isinstance(h, str) and h.strip()]
            if len(machines) != len(hwids) or not machines:
                raise ValueError("hwids must be non-empty strings (None: any machine)")
        expiry = to_epoch(expires_at)
        now = self._clock()
        with self._store.transaction() as conn:
            lic = self._license(conn, key)
            if lic.revoked:
                raise AdminError("revoked", "the license is revoked")
            if expiry is None:
                expiry = lic.expires_at
            if expiry is not None and expiry <= now:
                raise AdminError("expired", "the file would be expired already")
            app = self._app(conn, lic.app_id)
            return mint_license_file(
                conn,
                app,
                lic,
                hwids=machines,
                expires_at=expiry,
                label=label if label is not None else lic.label,
                now=now,
            )

    def stats(self, app_id: str) -> dict[str, Any]:
        """Successful validates and heartbeats and credits spent, per license and in all."""
        with self._store.transaction() as conn:
            app = self._app(conn, app_id)
            rows = conn.execute(
                "SELECT key, validates, heartbeats, credits_spent FROM licenses"
                " WHERE app_id = ? ORDER BY created_at, key",
                (app.id,),
            ).fetchall()
        return {
            "licenses": {
                key: {"validates": validates, "heartbeats": heartbeats, "credits": spent}
                for key, validates, heartbeats, spent in rows
            },
            "credits_spent": app.credits_spent,
        }

    # --- helpers ------------------------------------------------------------

    def _update_app(self, app_id: str, column: str, value: Any) -> None:
        # ``column`` is one of this module's literals, never user input.
        with self._store.transaction() as conn:
            conn.execute(
                f"UPDATE apps SET {column} = ? WHERE id = ?",  # noqa: S608
                (value, self._app(conn, app_id).id),
            )

    @staticmethod
    def _app(conn: Any, app_id: str) -> AppRecord:
        app = get_app(conn, app_id)
        if app is None:
            raise AdminError("unknown_app", "no such app")
        return app

    @staticmethod
    def _license(conn: Any, key: str) -> LicenseRecord:
        lic = get_license(conn, key)
        if lic is None:
            raise AdminError("invalid_key", "no such license")
        return lic
