"""A FastAPI service licensed by its vendor: one license for the whole server.

The server logs in at start-up (a refused license stops it from starting);
``/report`` needs the license, ``/export`` a "pro" one. After a revocation every
request is answered 403 ``{"code": "revoked", ...}``, never a 500, and the server
stays up. Needs ``pip install "authforge-guard[fastapi]" uvicorn``. Set up the
environment as in examples/README.md, then:

    python examples/fastapi_app.py --port 8000
    curl -i http://127.0.0.1:8000/export
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from typing import Annotated, Any

import uvicorn
from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md
from fastapi import Depends, FastAPI

import authforge_guard
from authforge_guard import LicenseEvent, Session, configure
from authforge_guard.fastapi import (
    install_handlers,
    licensed_lifespan,
    require_feature,
    require_license,
)


@authforge_guard.on_lost
def tell_the_operator(event: LicenseEvent) -> None:
    print(f"license lost ({event.code}): answering 403 from now on", flush=True)


@contextlib.asynccontextmanager
async def announce(app: FastAPI) -> AsyncIterator[None]:
    session = authforge_guard.get_guard().ensure()  # already logged in: no network
    print(f"serving on http://{app.state.address} (tier {session.tier})", flush=True)
    yield


# Dependencies, so FastAPI checks them before calling the endpoint, in any decorator order.
Licensed = Annotated[Session, Depends(require_license())]
Pro = Annotated[Session, Depends(require_feature("pro"))]

# Whose licenses this server believes: pinned in code, as in the quick start.
# AUTHFORGE_EXAMPLE_ON_LOST=exit: stop the server on a loss instead of answering 403.
configure(
    app_id=APP_ID,
    public_key=PUBLIC_KEY,
    api_base_url=API_URL,
    on_lost=os.environ.get("AUTHFORGE_EXAMPLE_ON_LOST", "raise"),
)

app = FastAPI(lifespan=licensed_lifespan(lifespan=announce))
install_handlers(app)


@app.get("/report")
async def report(session: Licensed) -> dict[str, Any]:
    return {"report": "ok", "tier": session.tier}


@app.get("/export")
async def export(session: Pro) -> dict[str, Any]:
    return {"export": "ok"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a licensed FastAPI service")
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
    # A start-up that failed (the license refused in the lifespan) is a failure, whatever
    # this uvicorn version does about it (uvicorn.run exits 3; Server.run may not).
    return 0 if server.started else 3


if __name__ == "__main__":
    sys.exit(main())
