"""``authforge-guard demo``: the whole story in a few seconds, on an embedded local server.

Two parties share this process. The vendor is a ``LocalAuthForge`` whose admin
stands in for the AuthForge dashboard (issue a license, revoke it). The
program is written as the README shows: ``@requires_license`` on its entry
point, ``@feature`` gates, a ``with licensed():`` block around the user's
work, a hook that tells the user and a cleanup that saves their document.
Heartbeats run online every 0.3 s (loopback servers allow that); the loss
reaches the main thread by a signal after the hooks have run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any, Callable

from ._exit_codes import EXIT_OK, EXIT_REFUSED

if TYPE_CHECKING:
    from ..testing import LocalAuthForge

HEARTBEAT_SECONDS = 0.3
HEARTBEATS_BEFORE_REVOKING = 3
TYPING_SECONDS = 0.04
GIVE_UP_SECONDS = 20.0

_NOVEL = (
    "It was a bright cold day in April, and the build was green.",
    "The license server hummed somewhere far away, or on loopback.",
    "Every edit was a licensed call, and every call cost a flag read.",
    "Nobody noticed the heartbeats; that was the point of them.",
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the whole story in a few seconds, on an embedded local server",
        description="Start a local AuthForge server, issue a 'pro' license, run a small "
        "licensed program (an entry point, two feature gates, a licensed() block with "
        "online heartbeats), revoke the license, and watch the cleanup hook save the "
        "user's work before the program stops with LicenseLost. No account, no internet.",
        epilog="exit codes: 0 the story ran to its end, 1 it did not",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder with the saved work"
    )
    parser.set_defaults(func=run)


class _Narrator:
    """Numbered steps and indented lines on stdout, flushed at once (hooks print from
    another thread)."""

    def __init__(self) -> None:
        self.number = 0

    def step(self, title: str) -> None:
        self.number += 1
        self._write(f"\n{self.number}. {title}\n")

    def line(self, text: str) -> None:
        self._write(f"   {text}\n")

    @staticmethod
    def _write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from ..testing import LocalAuthForge

    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="authforge-demo-")
    say = _Narrator()
    say._write(
        "authforge-guard demo: a licensed Python program, start to finish, "
        "on this machine (no account, no internet)\n"
    )
    try:
        with LocalAuthForge(heartbeat_rate_limit=None) as af:
            ok = _story(af, os.path.join(workdir, "novel.txt"), say)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    if not ok:
        say._write(f"\nThe demo did not reach its end ({elapsed:.1f} s).\n")
        return EXIT_REFUSED
    kept = (
        f" The saved work is in {workdir}."
        if args.keep
        else " (Its temporary folder is gone; --keep keeps it.)"
    )
    say._write(
        f"\nDone in {elapsed:.1f} s.{kept} Next: the README's quick start, "
        "'authforge-guard server' for a server of your own, and examples/.\n"
    )
    return EXIT_OK


def _story(af: LocalAuthForge, work_file: str, say: _Narrator) -> bool:
    from .. import LicenseEvent, LicenseLost, configure, feature, licensed, requires_license
    from .._protocol import mask_key

    say.step("Start a local AuthForge server")
    say.line(f"listening on {af.url} (a temporary database, removed at the end)")

    say.step('The vendor issues a "pro" license on the dashboard')
    key = af.create_license({"tier": "pro"}, label="Demo customer")
    say.line(f'license {mask_key(key)}   variables {{"tier": "pro"}}   1 machine')

    guard = configure(
        app_id=af.app_id,
        app_secret=af.app_secret,
        public_key=af.public_key,
        api_base_url=af.url,
        license_key=key,
        heartbeat="online",
        heartbeat_interval=HEARTBEAT_SECONDS,
        hook_timeout=5.0,
    )
    document: list[str] = []
    revoked_at: list[float] = []

    # --- the program, as its developer writes it ------------------------------------
    @guard.on("revoked")
    def tell_the_user(event: LicenseEvent) -> None:
        say.step(f"The next heartbeat is refused ({event.code}): the hooks run")
        say.line(f'@guard.on("revoked") hook: "Your license was {event.code}. Saving your work."')

    def save_work(path: str) -> None:
        text = "".join(document)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        say.line(f"cleanup hook saved {len(document)} lines ({len(text.encode())} bytes) to {path}")

    guard.add_cleanup(save_work, work_file)

    @feature("pro")
    def export_pdf(name: str) -> str:
        return f"exported {name}.pdf"

    @feature("enterprise", fallback=lambda name: "fallback ran: 'audit log: enterprise only'")
    def audit_log(name: str) -> str:
        return f"audit log of {name}"

    @requires_license
    def type_line(text: str) -> None:
        document.append(text + "\n")

    @requires_license
    def main() -> None:
        session = guard.session
        assert session is not None
        say.line(
            f"licensed: {session.kind}, tier {session.tier}, "
            f"heartbeat every {HEARTBEAT_SECONDS} s against the server"
        )
        say.step("Feature gates")
        say.line(f'@feature("pro")         export_pdf()  -> {export_pdf("chapter-1")}')
        say.line(f'@feature("enterprise")  audit_log()   -> {audit_log("chapter-1")}')
        say.step("The user writes inside 'with licensed():'; heartbeats go by")
        with licensed():
            _write_until_revoked(af, key, type_line, say, revoked_at)

    # --- the run ----------------------------------------------------------------
    say.step("The program starts: @requires_license logs in once")
    try:
        main()
    except LicenseLost as lost:
        after = time.monotonic() - revoked_at[0] if revoked_at else float("nan")
        say.step("The program stops with LicenseLost")
        say.line(
            f"LicenseLost(code={lost.code!r}) left the licensed() block "
            f"{after:.2f} s after the revocation"
        )
        return _check_saved(work_file, document, say)
    except TimeoutError:
        say.line(f"no LicenseLost within {GIVE_UP_SECONDS:.0f} s of the revocation")
        return False
    finally:
        guard.logout()
    say.line("the program ended without losing its license")
    return False


def _write_until_revoked(
    af: LocalAuthForge,
    key: str,
    type_line: Callable[[str], None],
    say: _Narrator,
    revoked_at: list[float],
) -> None:
    """Type lines; show each heartbeat the server accepts; revoke after a few; then keep
    typing until the loss stops us (a guarded call raises it, or the signal does)."""
    from .._protocol import mask_key

    seen = 0
    index = 0
    while True:
        type_line(_NOVEL[index % len(_NOVEL)])
        index += 1
        if not revoked_at:
            beats = af.stats()["licenses"][key]["heartbeats"]
            if beats > seen:
                seen = beats
                say.line(f"{index:3d} lines written   heartbeat {beats} accepted")
            if seen >= HEARTBEATS_BEFORE_REVOKING:
                say.step("The vendor revokes the license on the dashboard")
                af.revoke(key)
                revoked_at.append(time.monotonic())
                say.line(f"license {mask_key(key)} revoked; the program keeps working for now")
        elif time.monotonic() - revoked_at[0] > GIVE_UP_SECONDS:
            raise TimeoutError
        time.sleep(TYPING_SECONDS)


def _check_saved(work_file: str, document: list[str], say: _Narrator) -> bool:
    try:
        with open(work_file, encoding="utf-8") as handle:
            saved = handle.read()
    except OSError:
        say.line("the cleanup hook did not save the work")
        return False
    intact = saved == "".join(document)
    say.line(
        f"{os.path.basename(work_file)} on disk: {len(saved.splitlines())} lines, "
        f"{len(saved.encode())} bytes; "
        + ("every line the user typed is there" if intact else "it differs from the document")
    )
    return intact
