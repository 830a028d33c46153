"""Guard settings: one table (``SETTINGS``) says, for every setting, its keyword, its
``AUTHFORGE_*`` variable, how it is checked, its default and who may set it.

``resolve_settings``, ``ENV_VARS``, the fields of ``GuardSettings`` and the
README's configuration table all come from that table (tests keep
``Guard.__init__``'s keywords and ``GuardSettings``' annotations equal to it:
both stay written out for type checkers). Adding a setting is one row, one
field and one keyword.

Who may set what: the end user of a licensed program controls its environment,
so the environment must not be able to change *whose* licenses the program
believes (trust settings) or weaken *how strictly* it checks them
(enforcement settings). Those come from the program's code; the environment
may only make enforcement stricter, unless the code says
``trust_environment=True`` (development, tests, CI). Settings that are the
user's business (the license, the app secret, timeouts, proxy, CA bundle)
come from the environment as before.

Every problem is a ``ConfigurationError`` that names the argument and its
variable, so "it does not work on the build server" becomes one readable line.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

from .._exceptions import ConfigurationError
from .._records import Record

if TYPE_CHECKING:
    from .._stores import SessionStore

logger = logging.getLogger("authforge_guard")

DEFAULT_API_BASE_URL = "https://auth.authforge.cc"
DEFAULT_TIERS = ("free", "pro", "enterprise")
# The session lifetime the server gives when none is asked for: the baseline a
# shorter AUTHFORGE_TTL_SECONDS is compared with.
SERVER_DEFAULT_TTL = 86400
ON_LOST_POLICIES = ("raise", "exit", "warn")
ON_REFUSED_POLICIES = ("raise", "exit")
_HEARTBEAT_WORDS = {"online": "online", "server": "online", "grace": "grace", "local": "grace"}
_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"0", "false", "no", "off", ""}

# Who may set a setting (the ``kind`` of a row).
TRUST = "trust"  # whose licenses are believed: code only, unless trust_environment=True
ENFORCEMENT = "enforcement"  # how strictly: the environment may only make it stricter
ENVIRONMENT = "environment"  # the user's or operator's business: the environment as well
CODE = "code"  # no environment variable at all

Problem = Callable[[str], ConfigurationError]


def _identity(value: Any) -> Any:
    return value


class Setting(Record):
    """One row of the settings table."""

    __slots__ = (
        "aliases",
        "at_least_as_strict",
        "default",
        "default_doc",
        "doc",
        "env_var",
        "kind",
        "name",
        "none_is_a_value",
        "parse",
        "required",
        "same",
    )

    name: str
    kind: str
    parse: Callable[[Any, Problem], Any]  # a given value (never None) -> the checked value
    default: Any
    doc: str
    default_doc: str  # the README's "default" cell
    env_var: str | None
    # For enforcement rows: is ``value`` at least as strict as ``baseline``?
    at_least_as_strict: Callable[[Any, Any], bool] | None
    aliases: tuple[str, ...]  # other keywords for the same setting
    none_is_a_value: bool  # ``name=None`` means None, not "left out"
    required: bool
    same: Callable[[Any], Any]  # what "equal values" compares

    def __init__(
        self,
        name: str,
        kind: str,
        parse: Callable[[Any, Problem], Any],
        default: Any,
        doc: str,
        default_doc: str = "",
        env_var: str | None = None,
        at_least_as_strict: Callable[[Any, Any], bool] | None = None,
        aliases: tuple[str, ...] = (),
        none_is_a_value: bool = False,
        required: bool = False,
        same: Callable[[Any], Any] = _identity,
    ) -> None:
        if kind == ENFORCEMENT and at_least_as_strict is None:
            raise TypeError(f"enforcement setting {name} needs at_least_as_strict")
        self._assign(
            name=name,
            kind=kind,
            parse=parse,
            default=default,
            doc=doc,
            default_doc=default_doc,
            env_var=env_var,
            at_least_as_strict=at_least_as_strict,
            aliases=aliases,
            none_is_a_value=none_is_a_value,
            required=required,
            same=same,
        )


# ------------------------------------------------------------------ parsers


def _text(value: Any, problem: Problem) -> str:
    if not isinstance(value, str) or not value.strip():
        raise problem("must be a non-empty string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # e.g. an environment variable whose bytes are not UTF-8
        raise problem("must be valid text (UTF-8)") from None
    return value.strip()


def _path(value: Any, problem: Problem) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise problem("must be a file path")
    return value.strip()


def _existing_file(value: Any, problem: Problem) -> str:
    path = _path(value, problem)
    if not os.path.isfile(path):
        raise problem(f"no such file: {path!r}")
    return path


def _public_key(value: Any, problem: Problem) -> str | tuple[str, ...]:
    from .._protocol import TrustList

    if isinstance(value, list):
        value = tuple(value)
    try:
        TrustList(value)
    except ValueError as exc:
        raise problem(str(exc)) from None
    return value  # type: ignore[no-any-return]


def _key_list(value: Any) -> Any:
    """A trust list as its keys, however it was spelled (a list, a comma-separated string)."""
    from .._protocol._keys import split_public_keys

    try:
        return tuple(split_public_keys(value))
    except (TypeError, ValueError):
        return value


def _api_base_url(value: Any, problem: Problem) -> str:
    """Checked now by the transport's own rule (https, or http to loopback), so that a bad
    URL is named here rather than failing at first use."""
    from .._transport._addresses import check_base_url

    url = _text(value, problem)
    try:
        check_base_url(url)
    except ValueError as exc:
        raise problem(str(exc)) from None
    return url


def _proxy_url(value: Any, problem: Problem) -> str:
    """An http(s) proxy URL as urllib3 reads it (checked now, not at the first request,
    where a bad one would pass for a network failure)."""
    url = _text(value, problem)
    from urllib3.util import parse_url

    try:
        parsed = parse_url(url)
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        # The URL itself is not shown: it may hold a password.
        raise problem("must be an http:// or https:// URL")
    return url


def _heartbeat(value: Any, problem: Problem) -> str:
    word = str(value).strip().lower()
    if word not in _HEARTBEAT_WORDS:
        raise problem(f"must be 'online' or 'grace', got {value!r}")
    return _HEARTBEAT_WORDS[word]


def _positive_number(value: Any, problem: Problem) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise problem(f"must be a number, got {value!r}") from None
    if isinstance(value, bool) or not number > 0 or not math.isfinite(number):
        raise problem("must be a finite number above 0")
    return number


def _positive_integer(value: Any, problem: Problem) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise problem(f"must be a whole number, got {value!r}") from None
    if isinstance(value, bool) or number <= 0:
        raise problem("must be a positive whole number")
    return number


def _signal_number(value: Any, problem: Problem) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    name = str(value).strip().upper()
    name = name if name.startswith("SIG") else "SIG" + name
    import signal  # only for a signal given by name: its enums cost start-up

    # Signals only: the signal module also has SIG_IGN, SIG_SETMASK, ... (0, 1, 2).
    number = signal.Signals.__members__.get(name)
    if number is None:
        raise problem(f"unknown signal {value!r}")
    if name in ("SIGKILL", "SIGSTOP"):
        raise problem(f"{name} cannot be caught, so it cannot deliver a loss")
    return int(number)


def _store(value: Any, problem: Problem, *, urls: bool = True) -> Any:
    """``True`` (the per-user default directory), ``False``, a directory path, a Redis URL
    or a ``SessionStore`` object, read by the stores' own parser (``parse_store_setting``),
    the one ``store_from_setting`` uses too."""
    from .._stores import is_store_url, parse_store_setting

    try:
        parsed = parse_store_setting(value)
    except ValueError as exc:  # its message never shows the value (a URL's password)
        raise problem(str(exc)) from None
    if not urls and (is_store_url(parsed) or not isinstance(parsed, (bool, str))):
        raise problem("a Redis URL or a store object is set with session_store")
    return parsed


def _file_store(value: Any, problem: Problem) -> Any:
    return _store(value, problem, urls=False)


def _tiers(value: Any, problem: Problem) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(t, str) and t.strip() for t in value):
        raise problem("must be a sequence of names, lowest first")
    return tuple(t.strip().lower() for t in value)


def _one_of(*choices: str) -> Callable[[Any, Problem], str]:
    def parse(value: Any, problem: Problem) -> str:
        if value not in choices:
            raise problem(f"must be one of {', '.join(choices)}; got {value!r}")
        return str(value)

    return parse


def _exit_code(value: Any, problem: Problem) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise problem("must be a whole number from 0 to 255")
    return value


def _seconds(value: Any, problem: Problem) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise problem("must be a positive number of seconds")
    return float(value)


def _bool(value: Any, problem: Problem) -> bool:
    if not isinstance(value, bool):
        raise problem("must be True or False")
    return value


def _truthy(value: Any, problem: Problem) -> bool:
    return bool(value)


# ------------------------------------------------------ what "stricter" means


def _online_first(value: str, baseline: str) -> bool:
    return value == "online" or baseline == "grace"


def _shorter(value: float | None, baseline: float | None) -> bool:
    if baseline is None:
        return True
    return value is not None and value <= baseline


def _shorter_ttl(value: int | None, baseline: int | None) -> bool:
    return _shorter(value, SERVER_DEFAULT_TTL if baseline is None else baseline)


def _off_only(value: bool | str, baseline: bool | str) -> bool:
    """Reusing a session skips a check: the environment may turn a store off, never on."""
    return value is False or value == baseline


# -------------------------------------------------------------------- the table

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "app_id", TRUST, _text, None, "the app's id", "required", "AUTHFORGE_APP_ID", required=True
    ),
    Setting(
        "app_secret",
        ENVIRONMENT,
        _text,
        None,
        "the app's secret; not needed with an offline file",
        "required online",
        "AUTHFORGE_APP_SECRET",
    ),
    Setting(
        "public_key",
        TRUST,
        _public_key,
        None,
        "the app's Ed25519 public key (base64); a list or a comma-separated string during a "
        "key rotation",
        "required",
        "AUTHFORGE_PUBLIC_KEY",
        required=True,
        same=_key_list,
    ),
    Setting(
        "license_key",
        ENVIRONMENT,
        _text,
        None,
        "the customer's license key (also `licensed(key)`, `@requires_license(license_key=...)`)",
        "",
        "AUTHFORGE_LICENSE_KEY",
    ),
    Setting(
        "license_file",
        ENVIRONMENT,
        _path,
        None,
        "an offline `.authforge` file; tried before the key when both are set; the variable "
        "is read only when the code says `offline=True`",
        "",
        "AUTHFORGE_LICENSE_FILE",
    ),
    Setting(
        "api_base_url",
        TRUST,
        _api_base_url,
        DEFAULT_API_BASE_URL,
        "the API; `http://` only to a loopback address",
        f"`{DEFAULT_API_BASE_URL}`",
        "AUTHFORGE_API_URL",
    ),
    Setting(
        "heartbeat",
        ENFORCEMENT,
        _heartbeat,
        "grace",
        "`online` (ask the server every interval) or `grace` (re-verify locally); "
        '`heartbeat_mode="SERVER"`/`"LOCAL"` also work; the environment may only ask for '
        "`online`",
        "`grace`",
        "AUTHFORGE_HEARTBEAT",
        _online_first,
        aliases=("heartbeat_mode",),
    ),
    Setting(
        "heartbeat_interval",
        ENFORCEMENT,
        _positive_number,
        900.0,
        "seconds between checks; at least 10 against a remote server; the environment may "
        "only shorten it",
        "`900`",
        "AUTHFORGE_HEARTBEAT_INTERVAL",
        _shorter,
    ),
    Setting(
        "ttl_seconds",
        ENFORCEMENT,
        _positive_integer,
        None,
        "session lifetime asked for; the server keeps it within 3600-604800; the environment "
        "may only shorten it",
        f"server's ({SERVER_DEFAULT_TTL})",
        "AUTHFORGE_TTL_SECONDS",
        _shorter_ttl,
    ),
    Setting(
        "hwid_override",
        TRUST,
        _text,
        None,
        "send this instead, e.g. `tg:123` for a bot licensed per user",
        "this machine's HWID",
        "AUTHFORGE_HWID_OVERRIDE",
    ),
    Setting(
        "request_timeout",
        ENVIRONMENT,
        _positive_number,
        15.0,
        "seconds per HTTP request attempt, connect and all reads together",
        "`15`",
        "AUTHFORGE_REQUEST_TIMEOUT",
    ),
    Setting(
        "session_cache",
        ENFORCEMENT,
        _file_store,
        False,
        "reuse a session across restarts (see [Fleets](../how-to/fleets.md)); "
        "the older name of `session_store` for a directory; the environment may only turn it off",
        "off",
        "AUTHFORGE_SESSION_CACHE",
        _off_only,
    ),
    Setting(
        "session_store",
        ENFORCEMENT,
        _store,
        False,
        "where sessions are reused from: `True` (per-user directory), a path or `file://` "
        "URL, `redis://`/`rediss://`/`unix://`, or in code a `SessionStore` object; the "
        "environment may only turn it off",
        "off",
        "AUTHFORGE_SESSION_STORE",
        _off_only,
    ),
    Setting(
        "session_idle_timeout",
        ENVIRONMENT,
        _positive_number,
        900.0,
        "seconds a tenant's session may sit unused before it is logged out",
        "`900`",
        "AUTHFORGE_SESSION_IDLE_TIMEOUT",
    ),
    Setting(
        "max_sessions",
        ENVIRONMENT,
        _positive_integer,
        10000,
        "sessions one Guard holds at most",
        "`10000`",
        "AUTHFORGE_MAX_SESSIONS",
    ),
    Setting(
        "login_workers",
        ENVIRONMENT,
        _positive_integer,
        4,
        "threads of its own on which a Guard runs logins asked for by coroutines (aensure)",
        "`4`",
        "AUTHFORGE_LOGIN_WORKERS",
    ),
    Setting(
        "ca_bundle",
        ENVIRONMENT,
        _existing_file,
        None,
        "a CA bundle file (a TLS-inspecting corporate proxy)",
        "system CAs",
        "AUTHFORGE_CA_BUNDLE",
    ),
    Setting(
        "proxy_url",
        ENVIRONMENT,
        _proxy_url,
        None,
        "an HTTP(S) proxy; never used for a host `NO_PROXY` names, nor for a loopback server",
        "`HTTPS_PROXY`",
        "AUTHFORGE_PROXY_URL",
    ),
    Setting(
        "interrupt_signal",
        TRUST,  # the environment could name one that never arrives (SIGKILL, a blocked one)
        _signal_number,
        None,  # resolved to default_interrupt_signal()
        "the signal that delivers a loss to the main thread (see [where `LicenseLost` is "
        "raised](../explanation/losses.md#where-licenselost-is-raised))",
        "`SIGURG`",
        "AUTHFORGE_INTERRUPT_SIGNAL",
    ),
    Setting("tiers", CODE, _tiers, DEFAULT_TIERS, "tier names, lowest first"),
    Setting("tier_variable", CODE, _text, "tier", "the license variable naming the tier"),
    Setting("features_variable", CODE, _text, "features", "the variable listing features"),
    Setting("on_lost", CODE, _one_of(*ON_LOST_POLICIES), "raise", "what a loss does"),
    Setting("exit_code", CODE, _exit_code, 1, 'the exit status of on_lost="exit"'),
    Setting("interrupt", CODE, _truthy, True, "deliver a loss to the main thread"),
    Setting(
        "hook_timeout",
        CODE,
        _seconds,
        30.0,
        "seconds per hook (None: no limit)",
        none_is_a_value=True,
    ),
    Setting("exit_grace", CODE, _seconds, 10.0, 'seconds on_lost="exit" waits for cleanups'),
    Setting(
        "on_refused", CODE, _one_of(*ON_REFUSED_POLICIES), "raise", "what a refused login does"
    ),
    Setting("support_hint", CODE, _text, None, "text added to refusal messages"),
    Setting(
        "trust_environment",
        CODE,
        _bool,
        False,
        "read trust settings from the environment and let it loosen enforcement "
        "(development, tests, CI)",
    ),
    Setting(
        "offline",
        CODE,
        _bool,
        False,
        "accept an offline `.authforge` file named by `AUTHFORGE_LICENSE_FILE` (a "
        "`license_file=` in code is always accepted)",
    ),
    Setting(
        "max_unreachable",
        CODE,
        _seconds,
        None,
        "online mode: seconds the heartbeats may keep failing before the session ends with "
        "`server_unreachable` (default: three intervals)",
    ),
)

ROWS: dict[str, Setting] = {row.name: row for row in SETTINGS}

# argument -> environment variable
ENV_VARS: dict[str, str] = {row.name: row.env_var for row in SETTINGS if row.env_var}

_FROM_ENVIRONMENT = {
    TRUST: "only with `trust_environment=True`",
    ENFORCEMENT: "stricter only, unless `trust_environment=True`",
    ENVIRONMENT: "yes",
}


def configuration_table() -> str:
    """The table of environment variables on docs/reference/configuration.md, made from
    ``SETTINGS`` (its links are relative to that page)."""
    lines = [
        "| environment variable | `Guard` keyword | default | from the environment | meaning |",
        "|---|---|---|---|---|",
    ]
    for row in SETTINGS:
        if row.env_var:
            lines.append(
                f"| `{row.env_var}` | `{row.name}` | {row.default_doc} | "
                f"{_FROM_ENVIRONMENT[row.kind]} | {row.doc} |"
            )
    return "\n".join(lines) + "\n"


def default_interrupt_signal() -> int | None:
    """SIGURG: ignored by default, so a stray delivery can never kill the process, and
    unlike SIGUSR1/SIGUSR2 not claimed by servers such as gunicorn. Where signals cannot
    be sent to a thread (Windows: no SIGURG, no ``pthread_kill``), SIGINT, delivered by
    ``_thread.interrupt_main`` (see ``_interrupts``)."""
    from .._delivery._interrupts import signal_number, threads_take_signals

    return signal_number("SIGURG" if threads_take_signals() else "SIGINT")


class GuardSettings(Record):
    """Everything a Guard was configured with, resolved and checked once: one field per
    row of ``SETTINGS``; a test keeps these annotations equal to the table's rows."""

    __slots__ = tuple(row.name for row in SETTINGS)
    _hidden = frozenset({"app_secret", "public_key", "license_key", "hwid_override", "proxy_url"})

    app_id: str
    app_secret: str | None
    public_key: str | tuple[str, ...]
    license_key: str | None
    license_file: str | None
    api_base_url: str
    heartbeat: str  # "online" or "grace"
    heartbeat_interval: float
    ttl_seconds: int | None
    hwid_override: str | None
    request_timeout: float
    session_cache: bool | str  # the file store (False when session_store is a URL or object)
    session_store: bool | str | SessionStore
    session_idle_timeout: float
    max_sessions: int
    login_workers: int
    ca_bundle: str | None
    proxy_url: str | None  # may carry user:password
    interrupt_signal: int | None
    tiers: tuple[str, ...]
    tier_variable: str
    features_variable: str
    on_lost: str
    exit_code: int
    interrupt: bool
    hook_timeout: float | None
    exit_grace: float
    on_refused: str
    support_hint: str | None
    trust_environment: bool
    offline: bool
    max_unreachable: float | None  # None: UNREACHABLE_INTERVALS heartbeat intervals

    def __init__(self, **values: Any) -> None:
        self._assign(**values)

    @property
    def online(self) -> bool:
        """Online heartbeats (ask the server every interval) rather than grace mode."""
        return self.heartbeat == "online"


# ------------------------------------------------------------------- resolving


def resolve_settings(
    given: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> GuardSettings:
    """Merge keyword arguments with the environment, as each row's kind allows, and check
    every value. ``given`` holds keywords (``None``: left out)."""
    source = _Source(given, os.environ if environ is None else environ)
    values = {row.name: source.value(row) for row in SETTINGS}
    values["license_file"] = source.offline_file(values["license_file"], values["offline"])
    for row in SETTINGS:
        if row.required and values[row.name] is None:
            raise source.missing(row)
    host = _host(values["api_base_url"])
    values["heartbeat_interval"] = source.interval(values["heartbeat_interval"], host)
    if values["interrupt_signal"] is None:
        values["interrupt_signal"] = default_interrupt_signal()
    values["session_cache"], values["session_store"] = source.one_store(
        values["session_cache"], values["session_store"]
    )
    return GuardSettings(**values)


def _host(url: str) -> str:
    from .._transport._addresses import check_base_url

    return check_base_url(url)[1]


def text_setting(
    name: str,
    value: str | None = None,
    *,
    given_as: str | None = None,
    required: bool = False,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """One text setting on its own (``value``, else its ``AUTHFORGE_*`` variable, trusted),
    checked as a Guard checks it: for the CLI's commands that need no full configuration
    (the CLI is a tool of whoever runs it, so it trusts the environment)."""
    given: dict[str, Any] = {name: value, "trust_environment": True}
    source = _Source(given, os.environ if environ is None else environ)
    if given_as is not None:
        source.given_as[name] = given_as
    found = source.value(ROWS[name])
    if found is None and required:
        raise source.missing(ROWS[name])
    return found  # type: ignore[no-any-return]


def missing_setting(argument: str, given_as: str | None, note: str) -> ConfigurationError:
    """The error for a setting needed now but given neither as an argument nor in the
    environment; ``note`` says what needs it (or the alternative)."""
    return _setting_problem(argument, ENV_VARS[argument], "missing", given_as, note)


def _setting_problem(
    argument: str, variable: str | None, message: str, given_as: str | None, note: str = ""
) -> ConfigurationError:
    """``<argument>: <message> (<how it is given> or environment variable <VAR>)[; note]``."""
    if variable is None:
        return ConfigurationError(
            f"{argument} {message}" + (f"; {note}" if note else ""), argument=argument
        )
    where = f"{given_as} or environment variable {variable}" if given_as else variable
    return ConfigurationError(
        f"{argument}: {message} ({where})" + (f"; {note}" if note else ""),
        argument=argument,
        env_var=variable,
    )


class _Source:
    """Reads each setting from the keywords, else from its environment variable as far as
    its kind allows, else its default."""

    def __init__(self, given: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self.given = given
        self.env = env
        self.trusted = _bool(
            given.get("trust_environment", False),
            lambda message: _setting_problem("trust_environment", None, message, None),
        )
        self.given_name = {row.name: row.name for row in SETTINGS}
        self.given_as: dict[str, str] = {}  # how an argument is spelled, if not ``name=``

    def problem(self, row: Setting, message: str, note: str = "") -> ConfigurationError:
        argument = self.given_name[row.name]
        given_as = self.given_as.get(row.name, f"argument {argument}=")
        return _setting_problem(argument, row.env_var, message, given_as, note)

    def keyword(self, row: Setting) -> tuple[Any, bool]:
        """``(value, given)`` from the keywords, aliases included."""
        if row.none_is_a_value and row.name in self.given:
            return self.given[row.name], True
        value = self.given.get(row.name)
        if value is not None:
            return value, True
        for alias in row.aliases:
            value = self.given.get(alias)
            if value is not None:
                self.given_name[row.name] = alias
                return value, True
        return None, False

    def environment(self, row: Setting) -> str | None:
        """The variable's text; an empty variable counts as unset."""
        if row.env_var is None:
            return None
        text = self.env.get(row.env_var)
        if text is None or not text.strip():
            return None
        return text.strip()

    def value(self, row: Setting) -> Any:
        """The setting's value (``None`` for a required one found nowhere: the caller
        reports it, knowing whether the environment was read)."""

        def problem(message: str) -> ConfigurationError:
            return self.problem(row, message)

        code_value, in_code = self.keyword(row)
        code = row.parse(code_value, problem) if in_code and code_value is not None else None
        if row.kind == CODE:
            return code if in_code else row.default
        text = self.environment(row)
        if row.kind == ENVIRONMENT or self.trusted:
            if in_code:
                return code
            return row.parse(text, problem) if text is not None else row.default
        # Not trusted: a trust setting comes from the code only; an enforcement setting
        # from the environment only where the code left it out, and only to be stricter.
        baseline = code if in_code else row.default
        if text is None:
            return baseline
        try:
            wanted = row.parse(text, problem)
        except ConfigurationError:
            if row.kind == ENFORCEMENT and not in_code:
                raise  # it would have counted: say what is wrong with it
            wanted = _UNPARSEABLE
        if wanted is not _UNPARSEABLE and row.same(wanted) == row.same(baseline):
            return baseline
        stricter = row.at_least_as_strict
        if row.kind == ENFORCEMENT and not in_code and stricter and stricter(wanted, baseline):
            return wanted
        self.ignored(row)
        return baseline

    def missing(self, row: Setting) -> ConfigurationError:
        """A required setting found nowhere it may come from."""
        if self.trusted:
            return self.problem(row, "missing")
        argument = self.given_name[row.name]
        return ConfigurationError(
            f"{argument}: missing from the program's code: pass {argument}= to Guard() or "
            f"configure(); {row.env_var} is read only with trust_environment=True "
            "(for development, tests and CI)",
            argument=argument,
            env_var=row.env_var,
        )

    def ignored(self, row: Setting) -> None:
        """One warning per ignored variable, naming it (never its value: it may be a
        secret or a key)."""
        if row.kind == TRUST:
            why = f"{row.name} is a trust setting, taken from the program's code"
        else:
            why = f"the environment may only make {row.name} stricter than the program's code"
        logger.warning(
            "authforge_guard: environment variable %s is ignored: %s "
            "(trust_environment=True reads it, for development, tests and CI)",
            row.env_var,
            why,
        )

    def offline_file(self, found: str | None, allowed: bool) -> str | None:
        """``license_file`` as the code allows it. An offline file works with no network
        at all, so a program pinned to online checks would stop checking if the
        environment could name one: the variable counts only with ``offline=True`` in
        code (or ``trust_environment=True``); a ``license_file=`` keyword always does."""
        row = ROWS["license_file"]
        if found is None or allowed or self.trusted or self.keyword(row)[1]:
            return found
        logger.warning(
            "authforge_guard: environment variable %s is ignored: this program does not "
            "accept offline license files (offline=True in its code allows them)",
            row.env_var,
        )
        return None

    def interval(self, interval: float, host: str) -> float:
        """The interval, checked by the client's own rule for ``host`` (>= 10 s when remote)."""
        from .._transport._addresses import check_heartbeat_interval

        try:
            return check_heartbeat_interval(interval, host)
        except ValueError as exc:
            raise self.problem(ROWS["heartbeat_interval"], str(exc)) from None

    def one_store(
        self, cache: bool | str, store: bool | str | SessionStore
    ) -> tuple[bool | str, bool | str | SessionStore]:
        """``(session_cache, session_store)``: ``session_cache`` is the file store's older
        name; both set and different is an error, else each mirrors the other."""
        if cache is not False and store is not False and cache != store:
            raise self.problem(
                ROWS["session_store"], "session_cache and session_store name different stores"
            )
        from .._stores import is_store_url

        store = store if store is not False else cache
        if isinstance(store, (bool, str)) and not is_store_url(store):
            return store, store  # a directory (or the default one, or none)
        return False, store  # a Redis URL or the program's own store


_UNPARSEABLE = object()
