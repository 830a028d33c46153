"""A long-running worker: ``with licensed():`` around the work, progress saved on a loss.

It processes items one by one and remembers how far it got in a JSON checkpoint.
A cleanup hook writes the checkpoint when the license is lost; the worker then
stops with ``LicenseLost`` and, started again with a license, resumes there.
Set up the environment as in examples/README.md, then:

    AUTHFORGE_HEARTBEAT=online AUTHFORGE_HEARTBEAT_INTERVAL=10 \\
        python examples/worker.py progress.json --items 500
    authforge-guard admin --db local.sqlite3 license revoke KEY   # in another terminal

Exit codes: 0 all items done, 1 the license was refused or lost (progress saved),
2 configuration error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from typing import Any

from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md

from authforge_guard import (
    ConfigurationError,
    LicenseError,
    LicenseLost,
    configure,
    licensed,
    requires_license,
)


def say(line: str) -> None:
    """One whole line per write: the cleanup hook prints from another thread, and
    ``print`` writes the text and its newline separately, so lines could interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def load(path: str) -> dict[str, Any]:
    if not os.path.exists(path):
        return {"done": 0, "digest": ""}
    with open(path, encoding="utf-8") as handle:
        state: dict[str, Any] = json.load(handle)
    return state


def save(path: str, state: dict[str, Any]) -> None:
    """Write the checkpoint atomically: a crash mid-save leaves the old one.

    One copy of ``state``, taken first, is both written and reported: as the cleanup
    hook this runs on another thread while the main thread may still finish the item
    in flight, and reading ``state`` again after the write could report an item the
    file does not hold."""
    saved = dict(state)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(saved, handle)
    os.replace(path + ".tmp", path)
    say(f"progress saved: {saved['done']} items done")


@requires_license
def process(item: int, digest: str, delay: float) -> str:
    """One unit of licensed work (a hash chain stands in for the real thing)."""
    time.sleep(delay)
    return hashlib.sha256(f"{digest}{item}".encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a licensed worker that survives a loss")
    parser.add_argument("checkpoint", help="the progress file (JSON)")
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per item")
    args = parser.parse_args(argv)
    state = load(args.checkpoint)
    try:
        # Whose licenses this program believes: pinned in code, as in the quick start.
        guard = configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)
        guard.add_cleanup(save, args.checkpoint, state)
        with licensed():
            say(f"working from item {state['done']}")
            for item in range(state["done"], args.items):
                digest = process(item, state["digest"], args.delay)
                # One update, so the cleanup (another thread) never saves half of it.
                state.update({"done": item + 1, "digest": digest})
                say(f"item {item} done")
    except LicenseLost as exc:
        say(f"license lost ({exc.code}): stopped at item {state['done']}")
        return 1
    except LicenseError as exc:
        print(f"no license ({exc.code})", file=sys.stderr)
        return 1
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    save(args.checkpoint, state)
    say(f"all {args.items} items done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
