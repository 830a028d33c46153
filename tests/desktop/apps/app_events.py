"""What the test apps share: their JSON event lines and their licensing set-up from APP_*."""

from __future__ import annotations

import json
import os
import time

from authforge_guard import configure

MODE = os.environ.get("APP_MODE", "idle")


def say(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


def configure_from_environment() -> None:
    configure(
        trust_environment=True,
        on_lost=os.environ.get("APP_ON_LOST", "raise"),
        exit_code=int(os.environ.get("APP_GUARD_EXIT_CODE", "1")),
    )


def install_options() -> dict[str, object]:
    return {
        "exit_code": int(os.environ.get("APP_EXIT_CODE", "1")),
        "dialog": os.environ.get("APP_SHOW_DIALOG", "1") == "1",
    }
