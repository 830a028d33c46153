"""``authforge-guard admin``: manage a local server's database (apps, licenses, credits, files).

Safe while the server runs: both sides write in short transactions. Output is
human-readable, or JSON with ``--json``. Exit codes: 0 ok, 1 refused (no such
app or license, a revoked license...), 2 usage (bad arguments, no database).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Callable

from ._exit_codes import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from ._output import print_result

if TYPE_CHECKING:
    from ..server import Admin


def add_parser(subparsers: Any) -> None:
    admin = subparsers.add_parser(
        "admin",
        help="manage a local server's apps, licenses, credits and offline files",
        description="Manage the database of 'authforge-guard server' (safe while it runs): "
        "the local stand-in for the AuthForge dashboard. --app may be left out when the "
        "database has a single app. Example: authforge-guard admin --db local.sqlite3 "
        "license create --var tier=pro",
        epilog="exit codes: 0 ok, 1 refused (no such app or license...), "
        "2 usage (bad arguments, no database)",
    )
    admin.add_argument("--db", required=True, metavar="PATH", help="the server's database file")
    admin.add_argument("--json", action="store_true", help="print JSON for scripts")
    groups = admin.add_subparsers(dest="group", metavar="GROUP")
    groups.required = True
    _add_app_commands(groups)
    _add_license_commands(groups)
    _add_credits_commands(groups)
    _add_mint_command(groups)


# --- parsers ------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    """Options also accepted after the action (``admin --db X license list --json``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    return parent


def _with_app(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--app", metavar="APP_ID", help="the app (default: the only one)")
    return parser


def _with_variables(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="a string variable"
    )
    parser.add_argument(
        "--vars-json", metavar="JSON", help="variables as a JSON object: '{\"seats\": 5}'"
    )


def _action(
    group: Any, name: str, help_text: str, handler: Callable[[Admin, argparse.Namespace], Any]
) -> argparse.ArgumentParser:
    """A subcommand whose parser carries its handler: ``run`` calls ``args.handler``."""
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text, parents=[_common()])
    parser.set_defaults(func=run, handler=handler, creates_database=False)
    return parser


def _add_app_commands(groups: Any) -> None:
    apps = groups.add_parser("app", help="apps: create, list, show, keys, switches")
    group = apps.add_subparsers(dest="verb", metavar="ACTION")
    group.required = True
    create = _action(group, "create", "create an app (prints its secret)", _app_create)
    create.set_defaults(creates_database=True)
    create.add_argument("--name", default="app")
    create.add_argument(
        "--offline-activation", action="store_true", help="allow self-serve offline activation"
    )
    create.add_argument(
        "--credits", type=_credits_arg, default=None, help="credit balance (default unlimited)"
    )
    _with_variables(create)
    _action(group, "list", "list apps", _app_list)
    show = _with_app(_action(group, "show", "show an app and its public keys", _app_show))
    show.add_argument("--reveal-secret", action="store_true", help="also print the app secret")
    _with_app(
        _action(group, "rotate-key", "sign with a new key (old keys stay listed)", _app_rotate)
    )
    activate = _with_app(
        _action(group, "activate-key", "sign with an older key again", _app_activate_key)
    )
    activate.add_argument("key", help="public key or key id (k_...) listed by 'app show'")
    _with_app(_action(group, "disable", "refuse every request of the app", _app_disable))
    _with_app(_action(group, "enable", "serve the app again", _app_enable))
    offline = _with_app(
        _action(
            group,
            "offline-activation",
            "allow or forbid self-serve offline activation",
            _app_offline,
        )
    )
    offline.add_argument("state", choices=("on", "off"))
    _with_variables(
        _with_app(_action(group, "set-variables", "replace the app variables", _app_vars))
    )


def _add_license_commands(groups: Any) -> None:
    licenses = groups.add_parser("license", help="licenses: create, list, show, revoke...")
    group = licenses.add_subparsers(dest="verb", metavar="ACTION")
    group.required = True
    create = _with_app(_action(group, "create", "create license keys", _license_create))
    _with_variables(create)
    create.add_argument("--slots", type=int, default=1, help="machines (default 1; 0: unlimited)")
    create.add_argument("--expires", metavar="WHEN", help="ISO-8601 date/time or epoch seconds")
    create.add_argument("--label", help="a label such as the customer's name")
    create.add_argument("--count", type=int, default=1, help="how many keys (default 1)")
    _with_app(_action(group, "list", "list an app's licenses", _license_list))
    for name, help_text, handler in (
        ("show", "show a license", _license_show),
        ("revoke", "revoke a license (seen at the next heartbeat)", _license_revoke),
        ("reset-hwids", "free the license's machine slots", _license_reset),
    ):
        _action(group, name, help_text, handler).add_argument("key")
    set_vars = _action(group, "set-variables", "replace a license's variables", _license_vars)
    set_vars.add_argument("key")
    _with_variables(set_vars)


def _add_credits_commands(groups: Any) -> None:
    credits = groups.add_parser("credits", help="an app's credit balance")
    group = credits.add_subparsers(dest="verb", metavar="ACTION")
    group.required = True
    _with_app(_action(group, "show", "show the balance and credits spent", _credits_show))
    set_parser = _with_app(_action(group, "set", "set the balance", _credits_set))
    set_parser.add_argument("amount", type=_credits_arg, help="a number, or 'unlimited'")


def _add_mint_command(groups: Any) -> None:
    mint = _action(groups, "mint", "mint a signed offline .authforge file", _mint)
    mint.add_argument("key", nargs="?", help="license key (default: the request's licenseKey)")
    target = mint.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--hwid", action="append", metavar="HWID", help="bind to this machine (repeatable)"
    )
    target.add_argument("--any-machine", action="store_true", help="valid on any machine")
    target.add_argument(
        "--from-request", metavar="FILE", help="bind to the machine of an .authforge-request"
    )
    mint.add_argument(
        "--expires",
        metavar="WHEN",
        help="ISO-8601 or epoch seconds (default: the license's expiry)",
    )
    mint.add_argument("--label", help="label in the file (default: the license's)")
    mint.add_argument("-o", "--output", metavar="OUT", help="write the file here (default: stdout)")


def _credits_arg(text: str) -> int | None:
    if text.strip().lower() == "unlimited":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a whole number or 'unlimited'") from None
    if value < 0:
        raise argparse.ArgumentTypeError("credits cannot be negative")
    return value


# --- running ------------------------------------------------------------------


class _UsageError(Exception):
    """Arguments that parse but cannot be used (a bad date, a missing database)."""


def run(args: argparse.Namespace) -> int:
    from .._protocol import ActivationRequestError
    from ..server import Admin, AdminError

    if not args.creates_database and not os.path.exists(args.db):
        sys.stderr.write(f"error: no database at {args.db} (create an app first)\n")
        return EXIT_USAGE
    try:
        admin = Admin.open(args.db)
    except Exception as exc:  # sqlite3.Error, OSError: not a usable database file
        sys.stderr.write(f"error: cannot open database {args.db}: {exc}\n")
        return EXIT_USAGE
    try:
        result = args.handler(admin, args)
    except AdminError as exc:
        sys.stderr.write(f"refused: {exc}\n")
        return EXIT_REFUSED
    # Not TypeError: arguments that parsed reach the handlers with the right types,
    # so a TypeError is a bug, and its traceback must be seen.
    except (_UsageError, ActivationRequestError, ValueError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    finally:
        admin.close()
    print_result(result, as_json=args.json)
    return EXIT_OK


def _app_id(admin: Admin, args: argparse.Namespace) -> str:
    app: str | None = getattr(args, "app", None)
    return app if app else admin.default_app_id()


def _variables(args: argparse.Namespace) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    if args.vars_json:
        try:
            loaded = json.loads(args.vars_json)
        except ValueError:
            raise _UsageError("--vars-json is not valid JSON") from None
        if not isinstance(loaded, dict):
            raise _UsageError("--vars-json must be a JSON object")
        variables.update(loaded)
    for item in args.var:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise _UsageError(f"--var takes NAME=VALUE, got {item!r}")
        variables[name] = value
    return variables


def _moment(text: str | None) -> float | None:
    from ..server import to_epoch

    if text is None:
        return None
    stripped = text.strip()
    try:
        return float(stripped) if stripped.replace(".", "", 1).isdigit() else to_epoch(stripped)
    except ValueError:
        raise _UsageError(f"not a date, time or epoch seconds: {text!r}") from None


def _app_create(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    created = admin.create_app(
        args.name,
        offline_activation=args.offline_activation,
        credits=args.credits,
        variables=_variables(args),
    )
    return {
        "app_id": created.app_id,
        "app_secret": created.app_secret,
        "public_key": created.public_key,
    }


def _app_show(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    return admin.app_info(_app_id(admin, args), reveal_secret=args.reveal_secret)


def _app_list(admin: Admin, args: argparse.Namespace) -> list[dict[str, Any]]:
    return admin.list_apps()


def _app_disable(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    app_id = _app_id(admin, args)
    admin.set_app_disabled(app_id, True)
    return _switches(admin, app_id)


def _app_enable(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    app_id = _app_id(admin, args)
    admin.set_app_disabled(app_id, False)
    return _switches(admin, app_id)


def _app_offline(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    app_id = _app_id(admin, args)
    admin.set_offline_activation(app_id, args.state == "on")
    return _switches(admin, app_id)


def _switches(admin: Admin, app_id: str) -> dict[str, Any]:
    info = admin.app_info(app_id)
    return {k: info[k] for k in ("app_id", "disabled", "offline_activation")}


def _app_rotate(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    app_id = _app_id(admin, args)
    new_key = admin.rotate_key(app_id)
    return {"app_id": app_id, "public_key": new_key, "public_keys": admin.public_keys(app_id)}


def _app_activate_key(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    app_id = _app_id(admin, args)
    active = admin.activate_key(app_id, args.key)
    return {"app_id": app_id, "public_key": active, "public_keys": admin.public_keys(app_id)}


def _app_vars(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    app_id = _app_id(admin, args)
    admin.set_app_variables(app_id, _variables(args))
    return {"app_id": app_id, "variables": admin.app_info(app_id)["variables"]}


def _license_create(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    if args.count < 1 or args.slots < 0:
        raise _UsageError("--count must be >= 1 and --slots >= 0")
    app_id, variables, expires = _app_id(admin, args), _variables(args), _moment(args.expires)
    keys = [
        admin.create_license(
            app_id, variables, slots=args.slots, expires_at=expires, label=args.label
        )
        for _ in range(args.count)
    ]
    return {"app_id": app_id, "license_keys": keys}


def _license_list(admin: Admin, args: argparse.Namespace) -> list[dict[str, Any]]:
    return admin.list_licenses(_app_id(admin, args))


def _license_show(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    return admin.license_info(args.key)


def _license_revoke(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    admin.revoke(args.key)
    return {"license_key": args.key, "revoked": True}


def _license_reset(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    return {"license_key": args.key, "hwids_freed": admin.reset_hwids(args.key)}


def _license_vars(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    admin.set_license_variables(args.key, _variables(args))
    return {"license_key": args.key, "variables": admin.license_info(args.key)["variables"]}


def _credits_show(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    return admin.credits(_app_id(admin, args))


def _credits_set(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    app_id = _app_id(admin, args)
    admin.set_credits(app_id, args.amount)
    return admin.credits(app_id)


def _mint(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    from .._protocol import parse_activation_request
    from ..server import AdminError

    key, hwids = args.key, args.hwid
    request_app: str | None = None
    if args.from_request:
        with open(args.from_request, encoding="utf-8") as handle:
            request = parse_activation_request(handle.read())
        key, hwids, request_app = (
            key or request.get("licenseKey"),
            [request["hwid"]],
            request["appId"],
        )
    if not key:
        raise _UsageError("name the license key (the request does not carry one)")
    if request_app is not None and admin.license_info(key)["app_id"] != request_app:
        raise AdminError("wrong_app", "the activation request is for another app")
    text = admin.mint_offline_file(
        key,
        hwids=None if args.any_machine else hwids,
        expires_at=_moment(args.expires),
        label=args.label,
    )
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        return {"license_key": key, "output": args.output, "hwids": hwids or "any machine"}
    return {"file": text}
