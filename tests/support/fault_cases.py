"""The catalogue of faulty answers the reliability tests inject, with our client's verdict.

One list serves the fault matrix (login, online heartbeats, grace mode) and
the side-by-side comparison with the official SDK, so both speak of the same
faults. Each case is armed ``always`` on one path, so that our client's
retries (one for a network failure, two for a rate limit) meet it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Callable

from authforge_guard._protocol import SigningKey
from tests.support.fault_proxy import Answer, Fault

# A client under fault gives up on an answer after this long; the delay fault
# holds its answer longer.
REQUEST_TIMEOUT = 0.5
DELAY_PAST_TIMEOUT = 1.5
# Every other fault answers at once: its deadline is long, so that on a loaded machine its
# retries (tests/conftest.py's fast ones) finish before it and the code stays the fault's own
# (a 0.5 s deadline turned a dropped connection's retries into "timeout" at load 13).
UNHURRIED_TIMEOUT = 10.0

FOREIGN_KEY = SigningKey.generate()


@dataclass(frozen=True)
class FaultCase:
    """One fault and what our client must make of it.

    ``code`` is ``None`` when the answer is still good (the fault is harmless);
    ``needs_history`` when the fault replays an earlier success, which the
    test must provoke first.
    """

    name: str
    make: Callable[[], Fault]
    code: str | None
    fatal: bool = False
    needs_history: bool = False
    request_timeout: float = UNHURRIED_TIMEOUT

    def __str__(self) -> str:
        return self.name


def _edit_body(label: str, edit: Callable[[dict], None]) -> Fault:
    """A fault that edits the JSON body of the upstream's answer (not the signed payload)."""

    def rewrite(answer: Answer) -> Answer:
        try:
            body = json.loads(answer.body)
        except ValueError:
            return answer
        if not isinstance(body, dict) or "payload" not in body:
            return answer
        edit(body)
        return answer.with_json(body)

    return Fault(label, rewrite=rewrite)


def _upgrade(payload: dict) -> None:
    payload["licenseVariables"] = {"tier": "enterprise"}


def _verdict(code: str, status: int) -> Fault:
    fault = Fault.json({"status": "failed", "error": code}, status)
    return replace(fault, label=f"verdict({code}, {status})")


CASES = [
    # the connection fails
    FaultCase("drop", Fault.drop, "network_error"),
    FaultCase("reset", Fault.reset, "network_error"),
    FaultCase(
        "delay_past_timeout",
        lambda: Fault.delay(DELAY_PAST_TIMEOUT),
        "timeout",
        request_timeout=REQUEST_TIMEOUT,
    ),
    # something other than AuthForge answers
    FaultCase("http_429_empty", lambda: Fault.status(429), "http_error_429"),
    FaultCase("http_500_empty", lambda: Fault.status(500), "http_error_500"),
    FaultCase("html_502", lambda: Fault.html(502), "http_error_502"),
    FaultCase(
        "html_200",
        lambda: Fault.status(200, "<html>hi</html>", "text/html"),
        "invalid_json_response",
    ),
    FaultCase("truncated_json", Fault.truncated, "invalid_json_response"),
    FaultCase("json_array", lambda: Fault.json(["ok"]), "response_not_json_object"),
    FaultCase(
        "status_revoked_no_verdict",
        lambda: Fault.json({"status": "revoked"}),
        "unexpected_response",
    ),
    FaultCase(
        "failed_without_error", lambda: Fault.json({"status": "failed"}, 403), "unexpected_response"
    ),
    FaultCase("wrong_content_type", Fault.wrong_content_type, None),
    # verdicts, as a real server or a middlebox copying one would send them
    FaultCase("verdict_revoked_403", lambda: _verdict("revoked", 403), "revoked", fatal=True),
    FaultCase("verdict_system_error_503", lambda: _verdict("system_error", 503), "system_error"),
    FaultCase("verdict_rate_limited_429", lambda: _verdict("rate_limited", 429), "rate_limited"),
    FaultCase("verdict_no_credits_429", lambda: _verdict("no_credits", 429), "no_credits"),
    # the real answer, damaged or forged
    FaultCase("tamper_payload", lambda: Fault.tamper(_upgrade), "signature_mismatch", fatal=True),
    FaultCase(
        "bad_signature_encoding",
        lambda: _edit_body("bad_signature_encoding()", lambda b: b.update(signature="@@@")),
        "signature_mismatch",
        fatal=True,
    ),
    FaultCase(
        "missing_signature",
        lambda: _edit_body("missing_signature()", lambda b: b.pop("signature")),
        "missing_signature",
    ),
    FaultCase(
        "resign_foreign_key",
        lambda: Fault.resign(FOREIGN_KEY, _upgrade),
        "signature_mismatch",
        fatal=True,
    ),
    FaultCase("swap_nonce", Fault.swap_nonce, "nonce_mismatch"),
    FaultCase("replay_earlier_answer", Fault.replay, "nonce_mismatch", needs_history=True),
]

BY_NAME = {case.name: case for case in CASES}
