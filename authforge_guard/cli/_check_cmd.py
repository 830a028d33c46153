"""``authforge-guard check`` and ``verify-file``: is this license good here, and what does it
grant? Both read their settings as a ``Guard`` does and print the license key masked.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ._common import add_app_options, exit_code_for, given, settings, this_machine_hwid
from ._exit_codes import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from ._output import print_result

if TYPE_CHECKING:
    from .._guard._config import GuardSettings

MAX_LICENSE_FILE_BYTES = 1024 * 1024

# Why an offline file is refused, for people (the code itself is printed too).
_FILE_REASONS = {
    "bad_armor": "not an AuthForge license file",
    "bad_signature": "not signed by this app's key (altered, or another app's key)",
    "unsupported_version": "a newer file format than this version understands",
    "malformed_payload": "signed, but its contents are malformed",
    "wrong_app": "issued for another app",
    "issued_in_future": "signed after this machine's clock (is the clock set back?)",
    "expired": "expired",
    "hwid_mismatch": "bound to another machine",
}


def add_parser(subparsers: Any) -> None:
    check = subparsers.add_parser(
        "check",
        help="validate a license key online and show what it grants",
        description="Validate a license with the settings a Guard would use (the AUTHFORGE_* "
        "variables; the app secret only from $AUTHFORGE_APP_SECRET) and print its tier, "
        "variables, expiry and seats. Like a program's login, it takes a machine slot of "
        "the license if this machine has none yet. Without KEY: $AUTHFORGE_LICENSE_KEY, "
        "or the offline file in $AUTHFORGE_LICENSE_FILE.",
        epilog="exit codes: 0 valid, 1 refused (the code is printed), 2 configuration error, "
        "3 network (no answer from AuthForge)",
    )
    check.add_argument("key", nargs="?", metavar="KEY", help="the license key")
    add_app_options(check, api_url=True)
    check.add_argument("--json", action="store_true", help="print JSON for scripts")
    check.set_defaults(func=run_check)

    verify = subparsers.add_parser(
        "verify-file",
        help="check an offline .authforge license file on this machine",
        description="Verify an offline .authforge file with no network: the app's signature, "
        "the app id, the expiry, and that it is bound to this machine's HWID (or to any "
        "machine). App id and public key come from the flags or AUTHFORGE_APP_ID and "
        "AUTHFORGE_PUBLIC_KEY.",
        epilog="exit codes: 0 valid, 1 invalid (bad_armor, bad_signature, "
        "unsupported_version, malformed_payload, wrong_app, expired, hwid_mismatch), "
        "2 unreadable file or configuration error",
    )
    verify.add_argument("path", metavar="PATH", help="the .authforge file")
    add_app_options(verify)
    verify.add_argument("--json", action="store_true", help="print JSON for scripts")
    verify.set_defaults(func=run_verify_file)


# --- check ------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    from .._guard._config import missing_setting
    from .._guard._facade import Guard

    guard = Guard(**given(args))
    s = guard.settings
    key = args.key or s.license_key
    if key is None and s.license_file is not None:
        return _report_file(s.license_file, s, as_json=args.json)
    if key is None:
        raise missing_setting(
            "license_key", "argument KEY", "or AUTHFORGE_LICENSE_FILE for an offline file"
        )
    if not s.app_secret:
        raise missing_setting("app_secret", None, "checking a key online needs it")
    # Building the engine raises ConfigurationError for an http:// URL off loopback, a bad
    # CA bundle...
    result = guard._validate_once(key)
    if not result.get("valid"):
        code = str(result.get("code") or "unknown_error")
        failure = {"license_key": _mask(key), "code": code}
        exit_code = exit_code_for(code)
        if exit_code != EXIT_REFUSED:
            failure["reason"] = f"no answer from AuthForge at {s.api_base_url}"
        return _refused(failure, args.json, exit_code)
    summary = _online_summary(result, key, s)
    print_result(summary if args.json else _online_lines(summary), as_json=args.json)
    return EXIT_OK


def _online_summary(result: dict[str, Any], key: str, s: GuardSettings) -> dict[str, Any]:
    variables = result.get("license_variables") or {}
    tier, grants = _grants(variables, s)
    return {
        "valid": True,
        "kind": "online",
        "license_key": _mask(key),
        "tier": tier,
        "features": grants,
        "license_variables": variables,
        "app_variables": result.get("app_variables") or {},
        "license_expires_at": result.get("license_expires_at"),
        "session_expires_at": result.get("session_expires_at"),
        "seats": {"used": result.get("hwid_count"), "max": result.get("max_hwid_slots")},
        "label": result.get("license_label"),
        "app_id": s.app_id,
        "api_url": s.api_base_url,
    }


def _online_lines(summary: dict[str, Any]) -> dict[str, Any]:
    seats = summary["seats"]
    used = "?" if seats["used"] is None else seats["used"]
    limit = "unlimited" if seats["max"] is None else seats["max"]
    return {
        "license": f"{summary['license_key']}  valid",
        "tier": _tier_line(summary),
        "variables": summary["license_variables"],
        "app_variables": summary["app_variables"],
        "expires": summary["license_expires_at"] or "never",
        "session_until": summary["session_expires_at"],
        "seats": f"{used} of {limit} machines in use",
        "label": summary["label"],
        "server": f"{summary['api_url']} (app {summary['app_id']})",
    }


# --- verify-file ------------------------------------------------------------------


def run_verify_file(args: argparse.Namespace) -> int:
    return _report_file(args.path, settings(args), as_json=args.json)


def _report_file(path: str, s: GuardSettings, *, as_json: bool) -> int:
    text, problem = _read_file(path)
    if text is None:
        sys.stderr.write(f"error: cannot read {path}: {problem}\n")
        return EXIT_USAGE
    from .._protocol import verify_license_file

    hwid = this_machine_hwid(s.app_id, s.hwid_override)
    verdict = verify_license_file(text, s.app_id, s.public_key, hwid)
    if not verdict["ok"]:
        code = verdict["error"]
        failure = {"file": path, "code": code, "reason": _FILE_REASONS.get(code, code)}
        return _refused(failure, as_json, EXIT_REFUSED)
    summary = _file_summary(path, verdict["license"], s)
    print_result(summary if as_json else _file_lines(summary), as_json=as_json)
    return EXIT_OK


def _read_file(path: str) -> tuple[str | None, str]:
    from .._base._files import read_limited

    try:
        data = read_limited(path, MAX_LICENSE_FILE_BYTES)
    except OSError as exc:
        return None, exc.strerror or str(exc)
    if data is None:
        return None, "larger than any license file"
    return data.decode("utf-8", errors="replace"), ""


def _file_summary(path: str, lic: dict[str, Any], s: GuardSettings) -> dict[str, Any]:
    variables = lic.get("license_variables") or {}
    tier, grants = _grants(variables, s)
    policy = lic["hwid_policy"]
    return {
        "valid": True,
        "kind": "offline",
        "file": path,
        "license_key": _mask(lic["license_key"]),
        "tier": tier,
        "features": grants,
        "license_variables": variables,
        "app_variables": lic.get("app_variables") or {},
        "expires_at": lic["expires_at"],
        "machines": "any" if policy["mode"] == "any" else len(policy["hwids"]),
        "issued_at": lic["issued_at"],
        "label": lic.get("label"),
        "app_id": lic["app_id"],
    }


def _file_lines(summary: dict[str, Any]) -> dict[str, Any]:
    machines = summary["machines"]
    return {
        "file": f"{summary['file']}  valid on this machine",
        "license": summary["license_key"],
        "tier": _tier_line(summary),
        "variables": summary["license_variables"],
        "app_variables": summary["app_variables"],
        "expires": summary["expires_at"] or "never (lifetime file)",
        "machines": "any machine" if machines == "any" else f"bound to {machines} machine(s)",
        "issued": summary["issued_at"],
        "label": summary["label"],
        "app": summary["app_id"],
    }


# --- shared -----------------------------------------------------------------------


def _grants(variables: dict[str, Any], s: GuardSettings) -> tuple[str | None, list[str]]:
    """The tier and every feature the license grants, as a Guard with settings ``s`` sees them."""
    from .._guard._grants import compute_grants, tier_of

    grants = compute_grants(
        variables,
        tiers=s.tiers,
        tier_variable=s.tier_variable,
        features_variable=s.features_variable,
    )
    return tier_of(variables, s.tier_variable), sorted(grants)


def _tier_line(summary: dict[str, Any]) -> str:
    tier = summary["tier"] or "none"
    grants = ", ".join(summary["features"]) or "nothing"
    return f"{tier} (grants: {grants})"


def _refused(failure: dict[str, Any], as_json: bool, code: int) -> int:
    if as_json:
        print_result({"valid": False, **failure}, as_json=True)
    else:
        what = failure.get("license_key") or failure.get("file")
        reason = failure.get("reason")
        detail = f" ({reason})" if reason and reason != failure["code"] else ""
        verdict = "refused" if code == EXIT_REFUSED else "could not check"
        sys.stdout.write(f"{what}  {verdict}: {failure['code']}{detail}\n")
        sys.stdout.flush()
    return code


def _mask(key: str) -> str:
    from .._protocol import mask_key

    return mask_key(key)
