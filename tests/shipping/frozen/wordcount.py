"""A vendor's licensed command line, as it is frozen and shipped (tests/shipping/test_frozen.py).

Its trust settings and app secret are pinned in code (``vendor_settings.py``, written by
the build for the local server it is tested against); the customer gives only a key,
in ``AUTHFORGE_LICENSE_KEY`` or once with ``wordcount activate KEY``.

    wordcount --help            no license needed
    wordcount count FILE...     needs a license
    wordcount activate KEY      checks the key and stores it for this user
"""

import argparse
import sys

from vendor_settings import SETTINGS

import authforge_guard

SUPPORT = "support@wordcount.example"
EXIT = {"refused": 1, "feature": 1, "not_set_up": 2, "unreachable": 3}


@authforge_guard.requires_license(on_refused="exit")
def count(paths):
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            print(f"{path}: {len(handle.read().split())} words")


def activate(key):
    try:
        session = authforge_guard.activate(key)
    except authforge_guard.LicenseError as exc:
        print(exc.user_message, file=sys.stderr)
        return EXIT.get(exc.kind, 1)
    print(f"Activated ({session.tier or 'basic'} license). Thank you!")
    return 0


def main():
    parser = argparse.ArgumentParser(prog="wordcount", description="Count words, licensed.")
    commands = parser.add_subparsers(dest="command", required=True)
    counting = commands.add_parser("count", help="count the words of FILEs")
    counting.add_argument("paths", nargs="+", metavar="FILE")
    activating = commands.add_parser("activate", help="store your license key")
    activating.add_argument("key", metavar="KEY")
    args = parser.parse_args()
    authforge_guard.configure(**SETTINGS, on_refused="exit", support_hint=SUPPORT)
    if args.command == "activate":
        return activate(args.key)
    count(args.paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
