"""How every subcommand prints: aligned ``name  value`` lines for people, JSON for scripts.

Output goes to ``sys.stdout`` (looked up at call time, so tests can capture it).
Callers pass masked license keys only: nothing here knows what is secret.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

# Fields where None reads better as "unlimited" than as "-".
_NONE_MEANS_UNLIMITED = frozenset({"credits", "slots"})


def print_result(result: Any, *, as_json: bool) -> None:
    """A dict or a list of dicts, as JSON or as aligned fields."""
    out = sys.stdout
    if as_json:
        out.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    elif isinstance(result, dict) and set(result) == {"file"}:
        out.write(result["file"])  # the armored file itself, ready to redirect
    elif isinstance(result, list):
        for index, item in enumerate(result):
            if index:
                out.write("\n")
            print_fields(item)
        if not result:
            out.write("(none)\n")
    else:
        print_fields(result)
    out.flush()


def print_line(text: str) -> None:
    """``text`` and a newline on stdout; with no usable stdout (a windowed build),
    through ``_console`` (stderr, else the log and the GUI's notifier)."""
    out = sys.stdout
    try:
        out.write(text + "\n")
        out.flush()
    except Exception:  # None, closed, or broken: the customer still gets the line
        from .._base._console import say

        say(text)


def print_fields(fields: Mapping[str, Any]) -> None:
    width = max((len(name) for name in fields), default=0)
    for name, value in fields.items():
        shown = "unlimited" if value is None and name in _NONE_MEANS_UNLIMITED else human(value)
        sys.stdout.write(f"{name.replace('_', ' '):<{width}}  {shown}\n")


def human(value: Any) -> str:
    """One value on one line: yes/no, comma lists, compact JSON objects, ``-`` for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, frozenset, set)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return ", ".join(human(v) for v in items) if items else "-"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else "-"
    return str(value)
