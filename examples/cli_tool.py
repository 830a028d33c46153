"""A command-line tool licensed at its entry point: word statistics for text files.

``--help`` works without a license; counting needs one (``@requires_license``), and
``--top`` needs a "pro" license (``@feature("pro")``). Set up the environment as in
examples/README.md, then:

    python examples/cli_tool.py README.md setup.cfg
    python examples/cli_tool.py --top 5 README.md

Exit codes: 0 ok, 1 no license or not licensed for --top (the reason is printed),
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from collections import Counter

from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md

from authforge_guard import (
    ConfigurationError,
    FeatureNotLicensed,
    LicenseError,
    configure,
    feature,
    requires_license,
)


@feature("pro")
def top_words(counts: Counter[str], n: int) -> list[str]:
    return [f"{word} {count}" for word, count in counts.most_common(n)]


@requires_license
def word_stats(paths: list[str], top: int | None) -> None:
    counts: Counter[str] = collections.Counter()
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        words = re.findall(r"[a-z']+", text.lower())
        counts.update(words)
        print(f"{path}: {len(text.splitlines())} lines, {len(words)} words")
    if top:
        print("\n".join(top_words(counts, top)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wordstat", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", metavar="FILE")
    parser.add_argument("--top", type=int, metavar="N", help="the N most common words (pro)")
    args = parser.parse_args(argv)
    try:
        # Whose licenses this program believes: pinned in code, as in the quick start.
        configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)
        word_stats(args.paths, args.top)
    except FeatureNotLicensed as exc:
        print(f"wordstat: --top needs a pro license (yours: {exc.tier})", file=sys.stderr)
        return 1
    except LicenseError as exc:
        print(f"wordstat: no license ({exc.code})", file=sys.stderr)
        return 1
    except (ConfigurationError, OSError) as exc:
        print(f"wordstat: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
