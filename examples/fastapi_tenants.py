"""A FastAPI API where every customer brings their own license (multi-tenant).

Each request carries its key in ``X-License-Key`` and its user in ``X-User-Id``
(the license's HWID slot is taken per user: ``api:<id>``). No key: 401; a refused
key or a missing feature: 403; AuthForge unreachable: 503 with Retry-After.
Needs ``pip install "authforge-guard[fastapi]" uvicorn``. Set up the environment
as in examples/README.md (no AUTHFORGE_LICENSE_KEY: the keys come with the requests),
then:

    python examples/fastapi_tenants.py --port 8000
    curl -H "X-License-Key: KEY" -H "X-User-Id: 42" http://127.0.0.1:8000/me
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
from collections.abc import AsyncIterator
from typing import Annotated, Any

import uvicorn
from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md
from fastapi import Depends, FastAPI, Request

from authforge_guard import Session, configure
from authforge_guard.fastapi import install_handlers, require_feature, require_license


def user_hwid(request: Request) -> str | None:
    user = request.headers.get("X-User-Id")
    return f"api:{user}" if user else None


Tenant = Annotated[Session, Depends(require_license(key_header="X-License-Key", hwid=user_hwid))]
ProTenant = Annotated[
    Session, Depends(require_feature("pro", key_header="X-License-Key", hwid=user_hwid))
]

# Whose licenses this server believes: pinned in code, as in the quick start.
configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)


@contextlib.asynccontextmanager
async def announce(app: FastAPI) -> AsyncIterator[None]:
    print(f"serving on http://{app.state.address}", flush=True)
    yield


app = FastAPI(lifespan=announce)
install_handlers(app)


@app.get("/me")
async def me(session: Tenant) -> dict[str, Any]:
    return {"tier": session.tier, "features": sorted(session.features)}


@app.get("/bulk")
async def bulk(session: ProTenant) -> dict[str, Any]:
    return {"bulk": "ok"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a multi-tenant licensed API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args(argv)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)  # connections wait in the backlog until uvicorn has started
    host, port = sock.getsockname()[:2]
    app.state.address = f"{host}:{port}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
    return 0 if server.started else 3  # a failed start-up is a failure on every uvicorn


if __name__ == "__main__":
    sys.exit(main())
