"""ASCII armor shared by ``.authforge`` license files and ``.authforge-request`` files.

Reading is forgiving in the documented ways (CRLF, a UTF-8 BOM, re-wrapped
base64, text before and after the armor); writing is canonical (LF, 64 columns).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

LINE_WIDTH = 64
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_WHITESPACE_RE = re.compile(r"\s+")


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` with any BOM dropped and CRLF/CR folded to LF."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def find_marker(lines: Sequence[str], marker: str, start: int) -> int:
    """Index of the first line at or after ``start`` that is ``marker`` (trimmed), or -1."""
    for index in range(start, len(lines)):
        if lines[index].strip() == marker:
            return index
    return -1


def parse_headers_and_body(block: Sequence[str]) -> tuple[dict[str, str], str] | None:
    """``Name: value`` lines up to the first blank line, then the unwrapped base64 body.

    ``None`` when there is no blank line, a header line has no name, or the
    body is not base64.
    """
    blank = next((i for i, line in enumerate(block) if not line.strip()), -1)
    if blank == -1:
        return None
    headers: dict[str, str] = {}
    for raw in block[:blank]:
        name, colon, value = raw.strip().partition(":")
        if not colon or not name.strip():
            return None
        headers[name.strip()] = value.strip()
    body = join_base64(block[blank + 1 :])
    if body is None:
        return None
    return headers, body


def join_base64(lines: Sequence[str]) -> str | None:
    """The base64 text of wrapped ``lines`` with all whitespace removed; ``None`` if not base64."""
    joined = _WHITESPACE_RE.sub("", "".join(lines))
    if not joined or not _BASE64_RE.fullmatch(joined):
        return None
    return joined


def wrap(text: str, width: int = LINE_WIDTH) -> str:
    """``text`` cut into lines of ``width`` characters."""
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def header_value(value: str) -> str:
    """A header value on one line: line breaks would forge extra headers."""
    return value.replace("\r", " ").replace("\n", " ").strip()
