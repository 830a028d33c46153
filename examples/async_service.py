"""An asyncio service licensed with ``async with licensed():``: a line-echo TCP server.

Each connection is handled by a ``@requires_license`` coroutine; shouting back in
capitals is a "pro" feature with a plain-echo fallback. When the license is lost, the
serving task is cancelled into ``LicenseLost``, open connections are closed and the
service stops; other tasks of the event loop are not touched. Set up the
environment as in examples/README.md, then:

    AUTHFORGE_HEARTBEAT=online AUTHFORGE_HEARTBEAT_INTERVAL=10 \\
        python examples/async_service.py --port 9009
    printf 'hello\\n' | nc 127.0.0.1 9009

Exit codes: 0 stopped by Ctrl-C, 1 the license was refused or lost, 2 configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md

from authforge_guard import (
    ConfigurationError,
    LicenseError,
    LicenseLost,
    configure,
    feature,
    licensed,
    requires_license,
)


@feature("pro", fallback=lambda line: line)
async def shout(line: str) -> str:
    return line.upper()


@requires_license
async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.readline()
            if not data:
                break
            writer.write((await shout(data.decode())).encode())
            await writer.drain()
    finally:
        writer.close()


async def serve(host: str, port: int) -> None:
    async with licensed() as session:
        server = await asyncio.start_server(handle, host, port)
        async with server:
            bound = server.sockets[0].getsockname()[1]
            print(f"serving on {host}:{bound} (tier {session.tier})", flush=True)
            await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a licensed asyncio echo service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9009, help="0: any free port")
    args = parser.parse_args(argv)
    try:
        # Whose licenses this program believes: pinned in code, as in the quick start.
        configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)
        asyncio.run(serve(args.host, args.port))
    except LicenseLost as exc:
        print(f"license lost ({exc.code}): stopped serving", flush=True)
        return 1
    except LicenseError as exc:
        print(f"no license ({exc.code})", file=sys.stderr)
        return 1
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
