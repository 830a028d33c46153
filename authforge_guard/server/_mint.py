"""Where offline ``.authforge`` files are made, for the admin and for self-serve activation.

The codec writes the payload and the armor; this module only decides what a
file says: the license's variables and the app's variables as they are now,
signed by the app's active key.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence

from .._protocol import format_license_file, iso_utc, license_payload
from ._store import AppRecord, LicenseRecord, active_signing_key


def mint_license_file(
    conn: sqlite3.Connection,
    app: AppRecord,
    lic: LicenseRecord,
    *,
    hwids: Sequence[str] | None,
    expires_at: float | None,
    label: str | None,
    now: float,
) -> str:
    """Armored, signed text; ``hwids=None``: any machine, ``expires_at=None``: lifetime."""
    signing_key = active_signing_key(conn, app.id)
    payload = license_payload(
        app_id=app.id,
        license_key=lic.key,
        jti=uuid.uuid4().hex,
        key_id=signing_key.key_id,
        issued_at=iso_utc(now),
        expires_at=iso_utc(expires_at) if expires_at is not None else None,
        hwids=list(hwids) if hwids is not None else None,
        label=label,
        license_variables=lic.variables,
        app_variables=app.variables,
        license_expires_at=iso_utc(lic.expires_at) if lic.expires_at is not None else None,
    )
    return format_license_file(payload, signing_key, {"Key-Id": signing_key.key_id})
