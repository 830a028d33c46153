"""Type-checks under ``mypy --strict``: decorated callables keep their parameter and return
types (the suite runs mypy on this file)."""

from __future__ import annotations

import asyncio

import authforge_guard
from authforge_guard import (
    Guard,
    LicenseEvent,
    Session,
    feature,
    has_feature,
    licensed,
    requires_license,
)

guard = Guard(app_id="app", public_key="0wRcYWn44wk9tHOisXgso1wbtUqpFdy0IeMk4HXDiNc=")


@requires_license
def main(argv: list[str]) -> int:
    return len(argv)


@requires_license(guard=guard)
async def fetch(url: str, retries: int = 3) -> bytes:
    await asyncio.sleep(0)
    return url.encode() * retries


@feature("pro")
def export_pdf(document: str, *, pages: int) -> str:
    return f"{document}:{pages}"


@feature("enterprise", fallback=lambda document: document.upper())
def audit(document: str) -> str:
    return document


@guard.on("revoked", "expired")
def on_revoked(event: LicenseEvent) -> None:
    print(event.code, event.fatal)


@guard.on_lost
def save_work(event: LicenseEvent) -> None:
    print(event.session)


@guard.requires_license
def bound(count: int) -> list[int]:
    return list(range(count))


@guard.requires_license(on_refused="exit")
async def bound_async(name: str) -> str:
    return name


@guard.feature("pro", fallback=lambda document: "")
def bound_gate(document: str) -> str:
    return document


@requires_license(on_refused="exit")
def cli_main(verbose: bool = False) -> int:
    return 0


@authforge_guard.on_lost
def library_hook(event: LicenseEvent) -> None:
    print(event.code)


authforge_guard.add_cleanup(print, "flushed", end="\n")


def bound_block() -> Session:
    with guard.licensed() as session:
        return session


def licensed_work() -> str:
    with licensed(guard=guard) as session:
        tier: str | None = session.tier
        return tier or "none"


async def licensed_async() -> Session:
    async with licensed(guard=guard) as session:
        return session


def use_types() -> None:
    count: int = main(["a"])
    data: bytes = asyncio.run(fetch("u"))
    pdf: str = export_pdf("doc", pages=3)
    allowed: bool = has_feature("pro", guard=guard)
    numbers: list[int] = bound(3)
    name: str = asyncio.run(bound_async("n"))
    gated: str = bound_gate("doc")
    exit_code: int = cli_main(verbose=True)
    pro: bool = guard.has_feature("pro")
    print(count, data, pdf, allowed, audit("x"), numbers, name, gated, exit_code, pro)
