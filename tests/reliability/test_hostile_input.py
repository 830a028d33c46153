"""Hostile input to every parser of untrusted data: documented outcomes only, never a crash.

Each test feeds one parser what a broken network, a hostile middlebox or a
damaged file can produce (JSON of every type, garbage base64, deep nesting,
huge and non-ASCII strings, lone surrogates, mutations of valid files) and
asserts that only a documented result or a documented exception with a code
from a fixed set comes out. ``EXAMPLES`` says how many inputs each test tries;
``pytest --hypothesis-show-statistics`` shows which outcomes they reached.
The ``@example`` cases are inputs that crashed the codec before it was fixed.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
import operator
import re
from datetime import timezone

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, example, given, settings
from hypothesis import strategies as st

from authforge_guard._exceptions import AuthForgeError
from authforge_guard._protocol import (
    OFFLINE_LICENSE_ERRORS,
    SERVER_ERROR_CODES,
    ActivationRequestError,
    SigningKey,
    TrustList,
    decode_token_body,
    encode_token,
    failure_from_body,
    format_activation_request,
    format_license_file,
    is_success_status,
    is_transient_error,
    iso_utc,
    judge_signed_response,
    license_payload,
    normalize_machine_id,
    parse_activation_request,
    parse_iso_utc,
    server_verdict_code,
    signed_response,
    token_expiry,
    verify_license_file,
    verify_token,
)
from authforge_guard._protocol._activation import request_checksum
from authforge_guard._protocol._encoding import b64encode, b64url_encode

pytestmark = pytest.mark.timeout(60)  # a hang is a failure too

KEY = SigningKey.generate()
TRUST = TrustList(KEY.public_key_b64)
FOREIGN_KEY = SigningKey.generate()
MAC_KEY = b"hostile-input-mac-key"
NONCE = "0123456789abcdef0123456789abcdef"
APP_ID = "app_hostile"
HWID = "b" * 64
CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")

# How many generated inputs each test tries (hypothesis max_examples), sized so
# that all of tests/reliability runs in CI in under two minutes on two cores.
EXAMPLES = {
    "judge_arbitrary_bodies": 500,
    "judge_validly_signed_payloads": 300,
    "token_readers": 500,
    "license_random_text": 250,
    "license_mutations": 400,
    "license_whitespace_mutations": 150,
    "license_signed_hostile_payloads": 200,
    "activation_random_text": 250,
    "activation_mutations": 400,
    "activation_whitespace_mutations": 100,
    "activation_hostile_payloads": 200,
    "verdict_code": 250,
    "success_status": 200,
    "machine_id": 200,
    "trust_verify": 200,
    "iso_utc": 250,
    "retry_after": 300,
    "http_answers": 300,
}


def outcome(label):
    """Count ``label`` in hypothesis' statistics (``--hypothesis-show-statistics``)."""
    if currently_in_test_context():
        event(label)


def hostile(name):
    """Hypothesis settings for one test: its example count, no deadline, big inputs welcome."""
    return settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# --- the codes each parser may answer with ------------------------------------

# judge_signed_response: a server verdict, or a client code for an answer not believed.
JUDGE_CLIENT_CODES = frozenset(
    {
        "unexpected_response",
        "missing_payload",
        "empty_payload",
        "missing_signature",
        "empty_signature",
        "invalid_payload_json",
        "payload_not_json_object",
        "nonce_mismatch",
        "signature_mismatch",
        "missing_sessionToken",
        "invalid_keyId",
        "missing_expiresIn",
    }
)
JUDGE_CODES = SERVER_ERROR_CODES | JUDGE_CLIENT_CODES
# What a correctly signed payload may still be refused for: its shape.
PAYLOAD_SHAPE_CODES = frozenset(
    {"nonce_mismatch", "missing_sessionToken", "invalid_keyId", "missing_expiresIn"}
)
ACTIVATION_CODES = frozenset(
    {"bad_armor", "bad_checksum", "malformed_payload", "unsupported_version"}
)

# --- strategies -------------------------------------------------------------------

# Text of every kind: controls, non-ASCII, right-to-left marks, lone surrogates.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
# Text that can be UTF-8 encoded, for what our own server signs.
utf8_text = st.text(max_size=40)
huge_text = st.builds(
    operator.mul,
    st.sampled_from(["A", "=", "é", "\u202e", "\x00", "\U0001f600", "[", " ", "\ud800"]),
    st.integers(10_000, 300_000),
)
# Integers past Python's 4300-digit str() limit: JSON allows them, str(n) raises.
huge_ints = st.integers(4_400, 6_000).map(lambda digits: 10**digits)


def _nested_json(opener, depth, closed):
    closer = "]" if opener == "[" else "}"
    return opener * depth + ("1" + closer * depth if closed else "")


# Deeper than the recursion limit of json.loads, balanced or not.
deep_json_text = st.builds(
    _nested_json, st.sampled_from(["[", '{"a":']), st.integers(500, 60_000), st.booleans()
)


def json_values(text, scalars=st.nothing()):
    """Arbitrary JSON-like values whose strings come from ``text``."""
    leaves = st.none() | st.booleans() | st.integers() | st.floats() | text | scalars
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=12,
    )


# As decoded from the wire (json.loads can yield lone surrogates, not 5000-digit ints).
wire_values = json_values(any_text)
# As handed to a function by Python code: anything.
python_values = json_values(any_text, huge_ints)
# What our own server may sign.
signable_values = json_values(utf8_text)


def _b64_of_text(text):
    return b64encode(text.encode("utf-8", "surrogatepass"))


b64_of_json = wire_values.map(lambda value: b64encode(json.dumps(value).encode()))
garbage = st.one_of(
    wire_values,
    any_text,
    huge_text,
    b64_of_json,
    deep_json_text.map(_b64_of_text),
    st.binary(max_size=200).map(b64encode),
    st.text(alphabet="ABCxyz019+/=-_. \n", max_size=120),
)
iso_like = st.builds(
    lambda moment, sep, fraction, zone: moment.isoformat(sep=sep) + fraction + zone,
    st.datetimes(),
    st.sampled_from(["T", " ", "t"]),
    st.sampled_from(["", ".1", ".1234567", ".", ".x"]),
    st.sampled_from(["", "Z", "z", "+14:00", "-23:59", "+24:00", "+00:00:00.5"]),
)
SUCCESS_SPELLINGS = ("ok", "success", "valid", "true", "1")
success_status = st.sampled_from(["ok", "OK", " success ", "valid", "true", "1", True, 1])
failed_status = st.sampled_from(["failed", "FAILED", " failed\n", "fail"])
error_codes = st.sampled_from(sorted(SERVER_ERROR_CODES)) | st.from_regex(CODE_RE, fullmatch=True)


# --- judge_signed_response ----------------------------------------------------------


# What ``judge`` returns for an accepted answer: not a code (codes match CODE_RE), so a
# server verdict such as {"status": "failed", "error": "OK"} (refused, code "ok") is
# never mistaken for an acceptance.
ACCEPTED = "<accepted>"


def judge(body, trust=TRUST):
    """``ACCEPTED`` or the refusal code; fails the test on any other exception or bad result."""
    try:
        session = judge_signed_response(body, expected_nonce=NONCE, trust=trust, asked=None)
    except AuthForgeError as exc:
        code = exc.code
        assert code in JUDGE_CODES or (
            code == server_verdict_code(body) and CODE_RE.fullmatch(code)
        )
        assert isinstance(exc.transient, bool)
        outcome(f"refused: {code if code in JUDGE_CLIENT_CODES else 'server verdict'}")
        return code
    assert type(session.expires_at) is int
    assert isinstance(session.session_token, str) and session.session_token
    assert isinstance(session.validate_result(), dict)
    assert isinstance(session.token_body, dict)
    outcome("accepted")
    return ACCEPTED


field_names = st.sampled_from(["status", "error", "payload", "signature", "keyId"])
arbitrary_bodies = st.dictionaries(field_names | any_text, python_values | garbage, max_size=6)
success_bodies = st.fixed_dictionaries(
    {"status": success_status},
    optional={"payload": garbage, "signature": garbage, "keyId": garbage, "error": garbage},
)
verdict_bodies = st.fixed_dictionaries(
    {"status": failed_status | python_values, "error": error_codes | garbage | python_values}
)


@hostile("judge_arbitrary_bodies")
@given(st.one_of(arbitrary_bodies, success_bodies, verdict_bodies))
@example({"status": 10**5000})
@example({"status": "ok", "payload": _b64_of_text("[" * 100_000), "signature": "AA=="})
@example({"status": "ok", "payload": "\ud800", "signature": "\udfff"})
@example({"status": "failed", "error": "OK"})  # refused with the code "ok": not an acceptance
def test_judge_signed_response_on_hostile_bodies(body):
    code = judge(body)
    assert code != ACCEPTED  # nothing unsigned by the trusted key is ever believed


def _with_valid_mac(head):
    """A token whose MAC is right under ``MAC_KEY``, whatever its head says."""
    mac = hmac.new(MAC_KEY, head.encode("ascii"), hashlib.sha256).digest()
    return f"{head}.{b64url_encode(mac)}"


token_heads = st.one_of(
    wire_values.map(lambda value: b64url_encode(json.dumps(value).encode())),
    deep_json_text.map(lambda text: b64url_encode(text.encode())),
    st.text(alphabet="ABCxyz019-_=+/.", max_size=60),
)
token_like = st.one_of(
    signable_values,
    st.dictionaries(utf8_text, signable_values, max_size=3).map(lambda b: encode_token(b, MAC_KEY)),
    signable_values.map(lambda exp: encode_token({"exp": exp}, MAC_KEY)),
    token_heads.map(_with_valid_mac),
    st.builds("{}.{}".format, token_heads, utf8_text),
)
exp_like = st.integers() | st.floats() | st.integers().map(str) | signable_values
session_fields = st.sampled_from(
    ["maxHwidSlots", "hwidCount", "appVariables", "licenseVariables", "licenseLabel"]
    + ["sessionExpiresAt", "licenseExpiresAt", "requestId"]
)
signed_payloads = st.builds(
    lambda extra, nonce, token, expires_in: {
        **extra,
        "nonce": nonce,
        "sessionToken": token,
        "expiresIn": expires_in,
    },
    st.dictionaries(session_fields | utf8_text, signable_values, max_size=4),
    st.one_of(st.just(NONCE), st.just(f" {NONCE}\n"), st.just(NONCE.upper()), signable_values),
    token_like,
    exp_like,
)
key_ids = st.sampled_from([KEY.key_id, "absent"]) | signable_values


@hostile("judge_validly_signed_payloads")
@given(signed_payloads, key_ids, st.sampled_from([KEY, KEY, KEY, FOREIGN_KEY]))
@example(
    {"nonce": NONCE, "sessionToken": _with_valid_mac(b64url_encode(b"[" * 100_000))}, None, KEY
)
def test_judge_signed_response_on_signed_hostile_payloads(payload, key_id, signer):
    body = signed_response(payload, signer)
    if key_id == "absent":
        del body["keyId"]
    else:
        body["keyId"] = key_id
    code = judge(body)
    if signer is FOREIGN_KEY:
        assert code in {"nonce_mismatch", "signature_mismatch"}
    elif code == ACCEPTED:
        assert payload["nonce"].strip() == NONCE
    else:
        assert code in PAYLOAD_SHAPE_CODES


# --- session tokens -----------------------------------------------------------------

tokens = st.one_of(
    python_values,
    st.binary(max_size=100),
    huge_text,
    token_heads.map(_with_valid_mac),
    st.builds("{}.{}".format, token_heads, any_text),
    st.lists(any_text, max_size=4).map(".".join),
)


@hostile("token_readers")
@given(tokens)
@example(b64url_encode(b"[" * 100_000) + ".mac")
@example(_with_valid_mac(b64url_encode(b'{"a":' * 50_000)))
def test_session_token_readers_never_raise(token):
    body = decode_token_body(token)
    assert body is None or isinstance(body, dict)
    exp = token_expiry(token)
    assert exp is None or type(exp) is int
    verified = verify_token(token, MAC_KEY)
    assert verified is None or isinstance(verified, dict)


# --- .authforge license files -----------------------------------------------------


VALID_LICENSE_FIELDS = license_payload(
    app_id=APP_ID,
    license_key="K-1",
    jti="j",
    key_id=KEY.key_id,
    issued_at=iso_utc(0),
    expires_at=iso_utc(4_000_000_000),
    hwids=[HWID],
)


VALID_FILE = format_license_file(VALID_LICENSE_FIELDS, KEY)
VALID_PAYLOAD_B64 = verify_license_file(VALID_FILE, APP_ID, TRUST, HWID)["payload_base64"]


def verify(text, hwid=HWID, now=None):
    """The verdict on ``text``; fails the test unless it has a documented shape."""
    verdict = verify_license_file(text, APP_ID, KEY.public_key_b64, hwid, now=now)
    if verdict["ok"] is True:
        assert isinstance(verdict["license"], dict)
    else:
        assert verdict == {"ok": False, "error": verdict["error"]}
        assert verdict["error"] in OFFLINE_LICENSE_ERRORS
    outcome(f"verdict: {verdict.get('error', 'ok')}")
    return verdict


armor_lines = st.one_of(
    st.sampled_from(
        [
            "-----BEGIN AUTHFORGE LICENSE-----",
            "-----END AUTHFORGE LICENSE-----",
            "-----BEGIN AUTHFORGE SIGNATURE-----",
            "-----END AUTHFORGE SIGNATURE-----",
            "-----BEGIN AUTHFORGE ACTIVATION REQUEST-----",
            "-----END AUTHFORGE ACTIVATION REQUEST-----",
            "Version: 1",
            f"App-Id: {APP_ID}",
            "Checksum: 0123456789abcdef",
            ":",
            "",
        ]
    ),
    st.builds("{}: {}".format, any_text, any_text),
    b64_of_json,
    st.binary(min_size=60, max_size=70).map(b64encode),
    any_text,
)
armor_like_text = st.builds(
    lambda lines, ending: ending.join(lines),
    st.lists(armor_lines, max_size=14),
    st.sampled_from(["\n", "\r\n", "\r", "\n\n"]),
)
hostile_documents = st.one_of(any_text, huge_text, armor_like_text, python_values, st.binary())


@hostile("license_random_text")
@given(hostile_documents)
def test_license_file_on_random_text(text):
    assert verify(text)["ok"] is False


# Mutations of a valid file. Each is ``fn(text) -> text``.


def _flip_bit(text, index, bit):
    data = bytearray(text.encode("utf-8", "surrogatepass"))
    if not data:
        return text
    data[index % len(data)] ^= 1 << bit
    return data.decode("utf-8", "replace")


def _edit_lines(text, index, edit):
    lines = text.split("\n")
    at = index % len(lines)
    lines[at : at + 1] = edit(lines[at])
    return "\n".join(lines)


def _insert(text, index, piece):
    at = index % (len(text) + 1)
    return text[:at] + piece + text[at:]


def _cut(text, index, keep_head):
    at = index % (len(text) + 1)
    return text[:at] if keep_head else text[at:]


positions = st.integers(0, 10**6)
mutations = st.one_of(
    st.builds(functools.partial, st.just(_flip_bit), index=positions, bit=st.integers(0, 7)),
    st.builds(
        functools.partial,
        st.just(_edit_lines),
        index=positions,
        edit=st.sampled_from(
            [lambda line: [], lambda line: [line, line], lambda line: [line[::-1]]]
        ),
    ),
    st.builds(
        functools.partial,
        st.just(_insert),
        index=positions,
        piece=any_text | st.sampled_from(["\r\n", "\ufeff", "\n\n", "=", "-----", ":"]),
    ),
    st.builds(functools.partial, st.just(_cut), index=positions, keep_head=st.booleans()),
    st.just(lambda text: text.replace("\n", "\r\n")),
    st.just(lambda text: "\ufeff" + text),
)


def _mutated(original, edits):
    text = original
    for edit in edits:
        text = edit(text)
    return text


@hostile("license_mutations")
@given(st.lists(mutations, min_size=1, max_size=4))
def test_license_file_on_mutations_of_a_valid_file(edits):
    verdict = verify(_mutated(VALID_FILE, edits))
    if verdict["ok"]:  # e.g. only an unsigned header changed: still exactly the signed payload
        assert verdict["payload_base64"] == VALID_PAYLOAD_B64


def _is_marker(line):
    return line.strip().startswith("-----")


@st.composite
def whitespace_variants(draw, original):
    """``original`` with only documented-harmless changes: CRLF/CR, a BOM, padding, blank
    lines outside the header block, re-wrapped base64, text around the armor."""
    lines = original.rstrip("\n").split("\n")
    header_end = lines.index("")  # a blank line before it would end the headers early
    width = draw(st.integers(1, 100))
    rewrapped = lines[: header_end + 1]
    for is_marker, group in itertools.groupby(lines[header_end + 1 :], key=_is_marker):
        if is_marker:
            rewrapped.extend(group)
            continue
        joined = "".join(group)
        rewrapped.extend(joined[at : at + width] for at in range(0, len(joined), width))
    varied = []
    for index, line in enumerate(rewrapped):
        if index > header_end and not _is_marker(line):
            cut = draw(st.integers(0, len(line)))
            line = line[:cut] + draw(st.sampled_from(["", " ", "\t", "  \t"])) + line[cut:]
        pad = st.sampled_from(["", " ", "\t", " \t "])
        varied.append(draw(pad) + line + draw(pad))
        if index >= header_end and draw(st.integers(0, 3)) == 0:
            varied.append(draw(st.sampled_from(["", " ", "\t"])))
    around = st.lists(st.text(st.characters(exclude_characters="\r\n-"), max_size=30), max_size=2)
    varied = draw(around) + varied + draw(around)
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(varied)
    return draw(st.sampled_from(["", "\ufeff"])) + text


@hostile("license_whitespace_mutations")
@given(whitespace_variants(VALID_FILE))
def test_license_file_whitespace_changes_keep_it_valid(text):
    verdict = verify(text)
    assert verdict["ok"], verdict
    assert verdict["payload_base64"] == VALID_PAYLOAD_B64


def test_license_file_truncated_at_every_position():
    text = VALID_FILE
    complete = len(text.rstrip("\n"))
    for at in range(len(text) + 1):
        assert verify(text[:at])["ok"] is (at >= complete), at
        assert verify(text[at:])["ok"] is (at == 0), at


# Values that get past the earlier checks more often than random JSON would.
license_field_values = {
    "v": st.sampled_from([1, 1.0, True, 2, "1", 0]),
    "typ": st.sampled_from(["authforge-license", "authforge-activation-request", ""]),
    "appId": st.sampled_from([APP_ID, APP_ID.upper(), f" {APP_ID}", ""]),
    "issuedAt": iso_like | utf8_text,
    "expiresAt": st.none() | iso_like | utf8_text,
    "hwid": st.fixed_dictionaries(
        {"mode": st.sampled_from(["bound", "any", "BOUND", ""])},
        optional={
            "hwids": st.lists(st.sampled_from([HWID, "", f" {HWID}"]) | signable_values, max_size=3)
            | signable_values
        },
    ),
}
license_overrides = st.sampled_from(sorted(VALID_LICENSE_FIELDS)).flatmap(
    lambda name: st.tuples(st.just(name), license_field_values.get(name, signable_values))
)
hostile_license_payloads = st.builds(
    lambda overrides, dropped, extra: {
        **{k: v for k, v in VALID_LICENSE_FIELDS.items() if k not in dropped},
        **extra,
        **dict(overrides),
    },
    st.lists(license_overrides, max_size=3),
    st.sets(st.sampled_from(sorted(VALID_LICENSE_FIELDS)), max_size=1),
    st.dictionaries(utf8_text, signable_values, max_size=2),
)
moments = st.none() | st.integers() | st.floats() | st.datetimes(timezones=st.just(timezone.utc))


@hostile("license_signed_hostile_payloads")
@given(
    hostile_license_payloads | signable_values.map(lambda v: {"v": 1, "payload": v}),
    st.sampled_from([HWID, None, "", " " + HWID]) | any_text,
    moments,
)
@example({**VALID_LICENSE_FIELDS, "expiresAt": "9999-12-31T23:59:59.9999999-23:59"}, HWID, 0)
def test_license_file_on_signed_hostile_payloads(payload, hwid, now):
    verdict = verify(format_license_file(payload, KEY), hwid=hwid, now=now)
    # Minted by us and signed by the trusted key: armor and signature always pass.
    assert verdict.get("error") not in {"bad_armor", "bad_signature"}


# --- activation requests -------------------------------------------------------------

VALID_REQUEST = format_activation_request(
    app_id=APP_ID, hwid=HWID, created_at=iso_utc(0), os="Linux 6", sdk="t/1", license_key="K-1"
)
VALID_FIELDS = parse_activation_request(VALID_REQUEST)


def parse_request(text):
    """The parsed fields, or the refusal code; fails the test on anything undocumented."""
    try:
        fields = parse_activation_request(text)
    except ActivationRequestError as exc:
        assert exc.code in ACTIVATION_CODES
        outcome(f"refused: {exc.code}")
        return exc.code
    assert isinstance(fields, dict)
    assert all(
        isinstance(fields[name], str) and fields[name] for name in ("appId", "hwid", "createdAt")
    )
    outcome("parsed")
    return fields


@hostile("activation_random_text")
@given(hostile_documents)
def test_activation_request_on_random_text(text):
    assert isinstance(parse_request(text), str)


@hostile("activation_mutations")
@given(st.lists(mutations, min_size=1, max_size=4))
def test_activation_request_on_mutations_of_a_valid_request(edits):
    parse_request(_mutated(VALID_REQUEST, edits))


@hostile("activation_whitespace_mutations")
@given(whitespace_variants(VALID_REQUEST))
def test_activation_request_whitespace_changes_keep_it_valid(text):
    assert parse_request(text) == VALID_FIELDS


def _request_around(payload_text):
    """``VALID_REQUEST`` carrying ``payload_text`` instead, with a checksum that matches it."""
    payload_b64 = _b64_of_text(payload_text)
    lines = VALID_REQUEST.rstrip("\n").split("\n")
    blank = lines.index("")
    lines[blank + 1 : -1] = [payload_b64]
    lines = [
        f"Checksum: {request_checksum(payload_b64)}" if line.startswith("Checksum:") else line
        for line in lines
    ]
    return "\n".join(lines)


@hostile("activation_hostile_payloads")
@given(st.one_of(wire_values.map(json.dumps), deep_json_text, any_text.filter(bool), huge_text))
def test_activation_request_on_hostile_payloads_with_good_checksums(payload_text):
    assert parse_request(_request_around(payload_text)) not in {"bad_armor", "bad_checksum"}


def test_request_around_rebuilds_the_valid_request():
    assert parse_request(_request_around(json.dumps(VALID_FIELDS))) == VALID_FIELDS


# --- codes, statuses, machine ids, signatures, timestamps ---------------------------


@hostile("verdict_code")
@given(st.one_of(arbitrary_bodies, verdict_bodies))
def test_verdict_code_and_failure_from_body(body):
    code = server_verdict_code(body)
    assert code is None or CODE_RE.fullmatch(code)
    error = failure_from_body(body)
    assert isinstance(error, AuthForgeError)
    assert error.code == (code if code is not None else "unexpected_response")
    assert isinstance(is_transient_error(error), bool)


@hostile("success_status")
@given(python_values | success_status | failed_status)
@example(10**5000)
@example(-(10**5000))
def test_is_success_status_on_any_value(value):
    success = is_success_status(value)
    assert isinstance(success, bool)
    if success:  # only the documented spellings
        assert (
            value is True
            or (type(value) is int and value == 1)
            or (isinstance(value, str) and value.strip().lower() in SUCCESS_SPELLINGS)
        )
    assert isinstance(is_transient_error(value), bool)


@hostile("machine_id")
@given(python_values | st.text(alphabet="0123456789abcdefABCDEF- \t\r\n\u00a0", max_size=140))
def test_normalize_machine_id_on_any_value(value):
    machine_id = normalize_machine_id(value)
    if machine_id is not None:
        assert re.fullmatch(r"[0-9a-f-]{8,128}", machine_id)
        assert machine_id.strip("0-")
        assert normalize_machine_id(machine_id) == machine_id


@hostile("trust_verify")
@given(python_values | garbage, python_values | garbage)
@example("\ud800", b64encode(bytes(64)))
def test_trust_list_verify_never_raises(message, signature):
    assert TRUST.verify(message, signature) is False


@hostile("iso_utc")
@given(python_values | iso_like)
def test_parse_iso_utc_on_any_value(value):
    epoch = parse_iso_utc(value)
    assert epoch is None or isinstance(epoch, float)


# --- what the transport reads from an HTTP answer ------------------------------------

http_dates = st.builds(
    "{}, {:02d} {} {} {:02d}:00:00 {}".format,
    st.sampled_from(["Mon", "Fri", "Xyz", ""]),
    st.integers(0, 40),
    st.sampled_from(["Jan", "Dec", "Foo"]),
    st.integers(-10, 100_000),
    st.integers(-5, 99),
    st.sampled_from(["GMT", "+2359", "-9999", "+0000", ""]),
)


@hostile("retry_after")
@given(st.none() | any_text | http_dates | st.floats().map(repr) | st.integers().map(str))
def test_retry_after_header_on_any_value(value):
    from authforge_guard._transport._retry import RetryPolicy, parse_retry_after

    seconds = parse_retry_after(value)
    assert seconds is None or seconds >= 0
    policy = RetryPolicy()
    assert 0 <= policy.rate_limit_delay(0, value) <= policy.max_retry_after


@hostile("http_answers")
@given(
    st.integers(100, 599),
    st.binary(max_size=300) | huge_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
)
def test_any_http_answer_is_an_object_or_a_client_code(status, raw):
    from authforge_guard._transport._http import _decode_object, _is_rate_limited, _undecodable

    data = _decode_object(status, raw)
    if data is None:
        code = _undecodable(status, raw).code
        assert code in {f"http_error_{status}", "invalid_json_response", "response_not_json_object"}
        outcome(code if not code.startswith("http_error") else "http_error")
    else:
        assert isinstance(data, dict)
        outcome("object")
    assert isinstance(_is_rate_limited(status, data), bool)
