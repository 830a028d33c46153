"""HTTP/1.1 messages for the local server: requests parsed from bytes, JSON answers composed.

No sockets here (``_connections`` moves the bytes). A request is parsed as its
bytes arrive, under hard limits (16 KiB of head, 64 KiB of body, a bounded
drain of a larger one), so a connection never buffers more than one request.
Only an exact path is an endpoint: ``//auth/validate``, ``/auth/validate/``,
``/auth/%76alidate`` or an absolute URL are ``not_found``, never a second
spelling of the endpoint. JSON numbers must be finite: ``NaN``, ``Infinity``
and ``1e999`` make a body ``malformed_request`` wherever they appear.

Every answer, the errors of the HTTP layer included, is a JSON object in one
buffer, written with a single send (two sends on a kept-alive connection
would wait 40 ms for Nagle and delayed ACK). A bad request gets a JSON 4xx,
never a stack trace; an unexpected error is logged here and answered
``system_error``.
"""

from __future__ import annotations

import http
import json
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, Union

from .._protocol._encoding import compact_json
from .._version import __version__
from ._endpoints import Endpoints, Refusal

logger = logging.getLogger("authforge_guard.server")

MAX_BODY_BYTES = 64 * 1024
MAX_HEAD_BYTES = 16 * 1024
MAX_HEADERS = 100
# An oversized body up to this size is read and dropped so the connection
# stays usable; a larger one is answered and the connection closed.
_DRAIN_LIMIT_BYTES = 8 * 1024 * 1024
# Longer integer literals are refused (Python 3.11+ refuses 4,300 digits; this
# holds on every version, and no AuthForge field needs more than a few).
_MAX_INTEGER_DIGITS = 64

_CONTENT_LENGTH_RE = re.compile(r"[0-9]{1,18}")
_TOKEN_RE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION_RE = re.compile(r"HTTP/1\.[01]")
_HEAD_END_RE = re.compile(rb"\r?\n\r?\n")
_SERVER = f"authforge-guard-local/{__version__}"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# 401 app problems, 403 license and session problems, 429 rate and credit
# limits, 400 bad input; codes of the HTTP layer itself are listed too.
STATUS_FOR_CODE: dict[str, int] = {
    "invalid_app": 401,
    "app_disabled": 401,
    "invalid_key": 403,
    "expired": 403,
    "revoked": 403,
    "hwid_mismatch": 403,
    "blocked": 403,
    "session_expired": 403,
    "offline_activation_disabled": 403,
    "offline_activation_requires_perpetual": 403,
    "offline_activation_requires_seats": 403,
    "offline_activation_limit_reached": 403,
    "rate_limited": 429,
    "no_credits": 429,
    "app_burn_cap_reached": 429,
    "demo_quota_exceeded": 429,
    "bad_request": 400,
    "malformed_request": 400,
    "replay_detected": 400,
    "revoke_requires_session": 400,
    "not_found": 404,
    "method_not_allowed": 405,
    "system_error": 500,
}


@dataclass(frozen=True)
class Request:
    """One whole request: header names lower-cased, the body read to its length."""

    method: str
    target: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    keep_alive: bool


@dataclass(frozen=True)
class Problem:
    """A request the HTTP layer answers itself (no endpoint runs)."""

    status: int
    code: str
    keep_alive: bool = False


Parsed = Union[Request, Problem]


class RequestReader:
    """One connection's requests, parsed incrementally: ``feed`` bytes, ``next`` requests.

    After a ``Problem`` that does not keep the connection alive, ``failed``
    is set and nothing more is parsed: the connection is answered and closed.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._scanned = 0  # where the search for the end of the head resumes
        self._head: tuple[str, str, dict[str, str], bool] | None = None
        self._need = 0
        self._drain_left = 0
        self._oversized: Problem | None = None
        self._continue_due = False
        self.failed = False

    @property
    def pending(self) -> bool:
        """True while part of a request has arrived and the rest has not."""
        return bool(self._buf) or self._head is not None or self._oversized is not None

    def feed(self, data: bytes) -> None:
        if self._drain_left:
            dropped = min(len(data), self._drain_left)
            self._drain_left -= dropped
            data = data[dropped:]
        self._buf += data

    def take_continue(self) -> bool:
        """True once per request whose client waits for ``100 Continue`` before its body."""
        due, self._continue_due = self._continue_due, False
        return due

    def next(self) -> Parsed | None:
        """The next whole request or problem, or ``None`` until more bytes arrive."""
        if self.failed:
            return None
        if self._head is None and self._oversized is None:
            refused = self._read_head()
            if refused is not None:
                return self._finish(refused)
        if self._oversized is not None:  # answered once its body is all read and dropped
            if self._drain_left:
                return None
            problem, self._oversized = self._oversized, None
            return self._finish(problem)
        if self._head is None or len(self._buf) < self._need:
            return None
        method, target, headers, keep_alive = self._head
        body = bytes(self._buf[: self._need])
        del self._buf[: self._need]
        self._head = None
        self._continue_due = False
        return Request(method, target, headers, body, keep_alive)

    def _finish(self, problem: Problem) -> Problem:
        if not problem.keep_alive:
            self.failed = True
        return problem

    def _read_head(self) -> Problem | None:
        """Parse the head once it is all in; sets ``_head``, or returns a problem."""
        while self._buf[:2] == b"\r\n":  # stray line ends between requests
            del self._buf[:2]
        match = _HEAD_END_RE.search(self._buf, max(0, self._scanned - 3))
        if match is None:
            self._scanned = len(self._buf)
            if len(self._buf) > MAX_HEAD_BYTES:
                return Problem(431, "bad_request")
            return None
        raw = bytes(self._buf[: match.start()])
        del self._buf[: match.end()]
        self._scanned = 0
        if len(raw) > MAX_HEAD_BYTES:
            return Problem(431, "bad_request")
        parsed = _parse_head(raw)
        if isinstance(parsed, Problem):
            return parsed
        method, target, headers, keep_alive = parsed
        if "transfer-encoding" in headers:
            # Chunked bodies are not supported: AuthForge clients send a length.
            return Problem(411, "bad_request")
        declared = headers.get("content-length", "0")
        if not _CONTENT_LENGTH_RE.fullmatch(declared):
            return Problem(400, "bad_request")
        length = int(declared)
        expects_continue = headers.get("expect", "").lower() == "100-continue"
        if length > MAX_BODY_BYTES:
            # A client waiting for "100 Continue" never sends the body: answer and close.
            if length > _DRAIN_LIMIT_BYTES or expects_continue:
                return Problem(413, "malformed_request")
            dropped = min(len(self._buf), length)
            del self._buf[:dropped]
            self._drain_left = length - dropped
            self._oversized = Problem(413, "malformed_request", keep_alive)
            return None
        self._head = (method, target, headers, keep_alive)
        self._need = length
        self._continue_due = expects_continue and len(self._buf) < length
        return None


def _parse_head(raw: bytes) -> tuple[str, str, dict[str, str], bool] | Problem:
    """Request line and headers; a malformed head is a 400 that closes the connection."""
    lines = [line[:-1] if line.endswith(b"\r") else line for line in raw.split(b"\n")]
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN_RE.fullmatch(parts[0]) or not parts[1]:
        return Problem(400, "bad_request")
    method, target, version = (part.decode("latin-1") for part in parts)
    if not _VERSION_RE.fullmatch(version):
        return Problem(400, "bad_request")
    if len(lines) - 1 > MAX_HEADERS:
        return Problem(431, "bad_request")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN_RE.fullmatch(name):  # folded or garbled
            return Problem(400, "bad_request")
        key = name.decode("ascii").lower()
        text = value.decode("latin-1").strip()
        if key in headers:
            if key == "content-length" and headers[key] != text:
                return Problem(400, "bad_request")  # two lengths: a smuggling attempt
            text = f"{headers[key]}, {text}" if key != "content-length" else text
        headers[key] = text
    options = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    keep_alive = "close" not in options if version == "HTTP/1.1" else "keep-alive" in options
    return method, target, headers, keep_alive


# --- answers -----------------------------------------------------------------------


def _failed(code: str) -> dict[str, str]:
    return {"status": "failed", "error": code}


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise ValueError("a JSON number out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INTEGER_DIGITS:
        raise ValueError("a JSON integer too long")
    return int(text)


def decode_object(raw: bytes) -> dict[str, Any] | None:
    """The JSON object in ``raw``, or ``None`` for anything else: not UTF-8, not JSON, not an
    object, a non-finite or absurdly long number, or a ``\\ud800``-style lone surrogate
    (which no UTF-8 answer could echo back)."""
    try:
        value = json.loads(
            raw.decode("utf-8"),
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def http_date(now: float | None = None) -> str:
    """RFC 9110 date, independent of the locale."""
    t = time.gmtime(now)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def compose(
    status: int,
    body: Mapping[str, Any],
    *,
    keep_alive: bool,
    headers: Mapping[str, str] | None = None,
    head_only: bool = False,
) -> bytes:
    """A whole HTTP/1.1 answer with a JSON body, in one buffer."""
    data = compact_json(dict(body)).encode("utf-8")
    lines: list[str] = [
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
        f"Server: {_SERVER}",
        f"Date: {http_date()}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        "Cache-Control: no-store",
    ]
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + data


def answer_problem(problem: Problem) -> bytes:
    return compose(problem.status, _failed(problem.code), keep_alive=problem.keep_alive)


def answer_request(endpoints: Endpoints, request: Request, client_ip: str) -> bytes:
    """Run the endpoint ``request`` names and compose its answer."""
    path = request.target.partition("?")[0]
    status, body, headers = _outcome(endpoints, request, path, client_ip)
    logger.debug('%s "%s %s" %d', client_ip, request.method, path, status)
    return compose(
        status,
        body,
        keep_alive=request.keep_alive,
        headers=headers,
        head_only=request.method == "HEAD",
    )


def _outcome(
    endpoints: Endpoints, request: Request, path: str, client_ip: str
) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    if request.method != "POST":
        return 405, _failed("method_not_allowed"), {"Allow": "POST"}
    endpoint = endpoints.route(path)  # exact match only: no second spelling of a path
    if endpoint is None:
        return 404, _failed("not_found"), None
    body = decode_object(request.body)
    if body is None:
        return 400, _failed("malformed_request"), None
    try:
        answer = endpoint(body, client_ip)
    except Refusal as refusal:
        logger.info("%s refused: %s", path, refusal.code)
        headers = None
        if refusal.retry_after is not None:
            headers = {"Retry-After": str(refusal.retry_after)}
        return STATUS_FOR_CODE.get(refusal.code, 400), _failed(refusal.code), headers
    except Exception:
        logger.exception("internal error answering %s", path)
        return 500, _failed("system_error"), None
    return 200, answer, None
