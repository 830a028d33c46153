"""A Flask app licensed by its vendor: ``/report`` needs the license, ``/export`` a "pro" one.

Refusals are JSON answers (403 ``{"code": "revoked", ...}``, 503 when AuthForge
cannot be reached), never a 500. Needs ``pip install "authforge-guard[flask]"``.
Set up the environment as in examples/README.md, then:

    python examples/flask_app.py --port 5000
    curl -i http://127.0.0.1:5000/export
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md
from flask import Flask, g

from authforge_guard import configure
from authforge_guard.flask import AuthForge, feature_required, license_required

# Whose licenses this server believes: pinned in code, as in the quick start.
configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)

app = Flask(__name__)
AuthForge(app)


# The route decorator first, then ours (like Flask-Login's login_required).
@app.get("/report")
@license_required
def report() -> dict[str, Any]:
    return {"report": "ok", "tier": g.license.tier}


@app.get("/export")
@feature_required("pro")
def export() -> dict[str, Any]:
    return {"export": "ok"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a licensed Flask app")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--check",
        action="store_true",
        help="answer /report and /export once (test client) and exit",
    )
    args = parser.parse_args(argv)
    if args.check:
        client = app.test_client()
        for path in ("/report", "/export"):
            answer = client.get(path)
            print(path, answer.status_code, answer.get_json())
        return 0
    app.run(port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
