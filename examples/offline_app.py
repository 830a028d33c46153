"""An air-gapped program started from an offline ``.authforge`` file: no network, no secret.

The file is signed by the vendor and bound to this machine's HWID, so the program
needs only its app id and public key, pinned in code, and ``offline=True`` there so
that it reads AUTHFORGE_LICENSE_FILE at all (see examples/README.md). On the
air-gapped machine, tell the vendor its HWID; the vendor mints a file; the program
runs from it:

    authforge-guard hwid                                      # on the air-gapped machine
    authforge-guard admin --db local.sqlite3 mint KEY --hwid HWID -o app.authforge   # vendor
    AUTHFORGE_LICENSE_FILE=app.authforge python examples/offline_app.py

(``authforge-guard activation-request`` and ``admin mint --from-request`` do the same
with a file instead of a copied HWID.) Exit codes: 0 ok, 1 the file was refused
(the code says why: hwid_mismatch, expired, bad_signature...), 2 configuration error.
"""

from __future__ import annotations

import sys

from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md

from authforge_guard import ConfigurationError, LicenseError, configure, feature, licensed


@feature("pro", fallback=lambda: "basic report (pro adds charts)")
def report() -> str:
    return "full report with charts"


def main() -> int:
    try:
        # Whose licenses this program believes: pinned in code, as in the quick start; and
        # it takes offline files (AUTHFORGE_LICENSE_FILE counts only with offline=True).
        configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL, offline=True)
        with licensed() as session:  # reads AUTHFORGE_LICENSE_FILE
            expires = session.expires_at or "never"
            print(f"licensed {session.kind}: tier {session.tier}, expires {expires}")
            print(report())
    except LicenseError as exc:
        print(f"license file refused ({exc.code})", file=sys.stderr)
        return 1
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
