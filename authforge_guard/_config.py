"""Guard settings: keyword arguments first, then ``AUTHFORGE_*`` environment variables.

Every problem is a ``ConfigurationError`` that names the argument and its
variable, so "it does not work on the build server" becomes one readable line.
"""

from __future__ import annotations

import math
import os
import signal
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from ._exceptions import ConfigurationError

# argument -> environment variable
ENV_VARS = {
    "app_id": "AUTHFORGE_APP_ID",
    "app_secret": "AUTHFORGE_APP_SECRET",
    "public_key": "AUTHFORGE_PUBLIC_KEY",
    "license_key": "AUTHFORGE_LICENSE_KEY",
    "license_file": "AUTHFORGE_LICENSE_FILE",
    "api_base_url": "AUTHFORGE_API_URL",
    "heartbeat": "AUTHFORGE_HEARTBEAT",
    "heartbeat_interval": "AUTHFORGE_HEARTBEAT_INTERVAL",
    "ttl_seconds": "AUTHFORGE_TTL_SECONDS",
    "hwid_override": "AUTHFORGE_HWID_OVERRIDE",
    "request_timeout": "AUTHFORGE_REQUEST_TIMEOUT",
    "session_cache": "AUTHFORGE_SESSION_CACHE",
    "session_store": "AUTHFORGE_SESSION_STORE",
    "session_idle_timeout": "AUTHFORGE_SESSION_IDLE_TIMEOUT",
    "max_sessions": "AUTHFORGE_MAX_SESSIONS",
    "ca_bundle": "AUTHFORGE_CA_BUNDLE",
    "proxy_url": "AUTHFORGE_PROXY_URL",
    "interrupt_signal": "AUTHFORGE_INTERRUPT_SIGNAL",
}

DEFAULT_API_BASE_URL = "https://auth.authforge.cc"
DEFAULT_TIERS = ("free", "pro", "enterprise")
ON_LOST_POLICIES = ("raise", "exit", "warn")
ON_REFUSED_POLICIES = ("raise", "exit")
_HEARTBEAT_WORDS = {"online": True, "server": True, "grace": False, "local": False}
_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"0", "false", "no", "off", ""}


def missing_setting(argument: str, given_as: Optional[str], note: str) -> ConfigurationError:
    """The error for a setting needed now but given neither as an argument nor in the
    environment; ``note`` says what needs it (or the alternative)."""
    return _setting_problem(argument, ENV_VARS[argument], "missing", given_as, note)


def _setting_problem(
    argument: str, variable: str, message: str, given_as: Optional[str], note: str = ""
) -> ConfigurationError:
    """``<argument>: <message> (<how it is given> or environment variable <VAR>)[; note]``."""
    where = f"{given_as} or environment variable {variable}" if given_as else variable
    return ConfigurationError(
        f"{argument}: {message} ({where})" + (f"; {note}" if note else ""),
        argument=argument,
        env_var=variable,
    )


def text_setting(
    name: str,
    value: Optional[str] = None,
    *,
    given_as: Optional[str] = None,
    required: bool = False,
    environ: Optional[Mapping[str, str]] = None,
) -> Optional[str]:
    """One text setting on its own (``value``, else its ``AUTHFORGE_*`` variable), checked
    as a Guard checks it: for commands that need no full Guard configuration."""
    source = _Source(
        {name: value} if value is not None else {}, os.environ if environ is None else environ
    )
    if given_as is not None:
        source.given_as[name] = given_as
    return source.text(name, required=required)


def default_interrupt_signal() -> Optional[int]:
    """SIGURG: ignored by default, so a stray delivery can never kill the process, and
    unlike SIGUSR1/SIGUSR2 not claimed by servers such as gunicorn."""
    return getattr(signal, "SIGURG", None)


@dataclass(frozen=True)
class GuardSettings:
    """Everything a Guard was configured with, resolved and checked once."""

    app_id: str
    app_secret: Optional[str] = field(repr=False)
    public_key: Union[str, Tuple[str, ...]] = field(repr=False)
    license_key: Optional[str] = field(repr=False)
    license_file: Optional[str]
    api_base_url: str
    online: bool
    heartbeat_interval: float
    ttl_seconds: Optional[int]
    hwid_override: Optional[str] = field(repr=False)
    request_timeout: float
    tiers: Tuple[str, ...]
    tier_variable: str
    features_variable: str
    on_lost: str
    exit_code: int
    interrupt: bool
    interrupt_signal: Optional[int]
    hook_timeout: Optional[float]
    exit_grace: float
    session_cache: Union[bool, str]
    ca_bundle: Optional[str]
    proxy_url: Optional[str] = field(repr=False)  # may carry user:password
    session_store: Union[bool, str] = False
    session_idle_timeout: float = 900.0
    max_sessions: int = 10000
    on_refused: str = "raise"
    support_hint: Optional[str] = None
    trust_environment: bool = False


def resolve_settings(
    given: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None
) -> GuardSettings:
    """Merge keyword arguments with the environment and check every value."""
    env = os.environ if environ is None else environ
    source = _Source(given, env)
    app_id = source.text("app_id", required=True)
    public_key = source.public_key()
    mode = given.get("heartbeat_mode")
    heartbeat = given.get("heartbeat")
    if heartbeat is None and mode is not None:
        heartbeat = mode
        source.given_name["heartbeat"] = "heartbeat_mode"
    online = source.heartbeat(heartbeat)
    api_base_url, host = source.api_base_url()
    tiers = given.get("tiers", DEFAULT_TIERS)
    if isinstance(tiers, str) or not all(isinstance(t, str) and t.strip() for t in tiers):
        raise ConfigurationError(
            "tiers must be a sequence of names, lowest first", argument="tiers"
        )
    on_lost = given.get("on_lost", "raise")
    if on_lost not in ON_LOST_POLICIES:
        raise ConfigurationError(
            f"on_lost must be one of {', '.join(ON_LOST_POLICIES)}; got {on_lost!r}",
            argument="on_lost",
        )
    on_refused = given.get("on_refused", "raise")
    if on_refused not in ON_REFUSED_POLICIES:
        raise ConfigurationError(
            f"on_refused must be one of {', '.join(ON_REFUSED_POLICIES)}; got {on_refused!r}",
            argument="on_refused",
        )
    session_cache, session_store = source.session_store()
    return GuardSettings(
        app_id=app_id or "",
        app_secret=source.text("app_secret"),
        public_key=public_key,
        license_key=source.text("license_key"),
        license_file=source.path("license_file"),
        api_base_url=api_base_url,
        online=online,
        heartbeat_interval=source.heartbeat_interval(host),
        ttl_seconds=source.integer("ttl_seconds"),
        hwid_override=source.text("hwid_override"),
        request_timeout=source.number("request_timeout", 15.0, minimum_exclusive=0.0),
        tiers=tuple(t.strip().lower() for t in tiers),
        tier_variable=_name(given.get("tier_variable", "tier"), "tier_variable"),
        features_variable=_name(given.get("features_variable", "features"), "features_variable"),
        on_lost=on_lost,
        exit_code=_exit_code(given.get("exit_code", 1)),
        interrupt=bool(given.get("interrupt", True)),
        interrupt_signal=source.signal_number(),
        hook_timeout=_optional_seconds(given.get("hook_timeout", 30.0), "hook_timeout"),
        exit_grace=_optional_seconds(given.get("exit_grace", 10.0), "exit_grace") or 10.0,
        session_cache=session_cache,
        session_store=session_store,
        session_idle_timeout=source.number("session_idle_timeout", 900.0, minimum_exclusive=0.0),
        max_sessions=source.integer("max_sessions") or 10000,
        on_refused=on_refused,
        support_hint=_optional_text(given.get("support_hint"), "support_hint"),
        trust_environment=_flag(given.get("trust_environment", False), "trust_environment"),
        ca_bundle=source.existing_file("ca_bundle"),
        proxy_url=source.proxy_url(),
    )


class _Source:
    """Reads one setting from the arguments, else from its environment variable."""

    def __init__(self, given: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self.given = given
        self.env = env
        self.given_name = {name: name for name in ENV_VARS}
        self.given_as: Dict[str, str] = {}  # how an argument is spelled, if not ``name=``

    def raw(self, name: str) -> Tuple[Any, bool]:
        """``(value, from_environment)``; an empty environment variable counts as unset."""
        value = self.given.get(name)
        if value is not None:
            return value, False
        text = self.env.get(ENV_VARS[name])
        if text is None or not text.strip():
            return None, True
        return text.strip(), True

    def problem(self, name: str, message: str) -> ConfigurationError:
        argument = self.given_name[name]
        given_as = self.given_as.get(name, f"argument {argument}=")
        return _setting_problem(argument, ENV_VARS[name], message, given_as)

    def text(self, name: str, *, required: bool = False) -> Optional[str]:
        value, _from_env = self.raw(name)
        if value is None:
            if required:
                raise self.problem(name, "missing")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.problem(name, "must be a non-empty string")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # e.g. an environment variable whose bytes are not UTF-8
            raise self.problem(name, "must be valid text (UTF-8)") from None
        return value.strip()

    def path(self, name: str) -> Optional[str]:
        value, _from_env = self.raw(name)
        if value is None:
            return None
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value.strip():
            raise self.problem(name, "must be a file path")
        return value.strip()

    def existing_file(self, name: str) -> Optional[str]:
        path = self.path(name)
        if path is not None and not os.path.isfile(path):
            raise self.problem(name, f"no such file: {path!r}")
        return path

    def api_base_url(self) -> Tuple[str, str]:
        """``(url, host)``, checked now by the transport's own rule (https, or http to
        loopback), so that a bad URL is named here rather than failing at first use."""
        from ._transport import check_base_url

        url = self.text("api_base_url") or DEFAULT_API_BASE_URL
        try:
            _normalised, host = check_base_url(url)
        except ValueError as exc:
            raise self.problem("api_base_url", str(exc)) from None
        return url, host

    def proxy_url(self) -> Optional[str]:
        """An http(s) proxy URL as urllib3 reads it (checked now, not at the first request,
        where a bad one would pass for a network failure)."""
        url = self.text("proxy_url")
        if url is None:
            return None
        from urllib3.util import parse_url

        try:
            parsed = parse_url(url)
        except ValueError:
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            # The URL itself is not shown: it may hold a password.
            raise self.problem("proxy_url", "must be an http:// or https:// URL")
        return url

    def heartbeat_interval(self, host: str) -> float:
        """The interval, checked by the client's own rule for ``host`` (>= 10 s when remote)."""
        from ._client import check_heartbeat_interval

        interval = self.number("heartbeat_interval", 900.0, minimum_exclusive=0.0)
        try:
            return check_heartbeat_interval(interval, host)
        except ValueError as exc:
            raise self.problem("heartbeat_interval", str(exc)) from None

    def public_key(self) -> Union[str, Tuple[str, ...]]:
        from ._protocol import TrustList

        value, _from_env = self.raw("public_key")
        if value is None:
            raise self.problem("public_key", "missing (the app's Ed25519 public key, base64)")
        if isinstance(value, list):
            value = tuple(value)
        try:
            TrustList(value)
        except ValueError as exc:
            raise self.problem("public_key", str(exc)) from None
        return value  # type: ignore[no-any-return]

    def heartbeat(self, value: Any) -> bool:
        if value is None:
            value, _from_env = self.raw("heartbeat")
        if value is None:
            return False
        word = str(value).strip().lower()
        if word not in _HEARTBEAT_WORDS:
            raise self.problem("heartbeat", f"must be 'online' or 'grace', got {value!r}")
        return _HEARTBEAT_WORDS[word]

    def number(self, name: str, default: float, *, minimum_exclusive: float) -> float:
        value, _from_env = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.problem(name, f"must be a number, got {value!r}") from None
        if isinstance(value, bool) or not number > minimum_exclusive or not math.isfinite(number):
            raise self.problem(name, f"must be a finite number above {minimum_exclusive:g}")
        return number

    def integer(self, name: str) -> Optional[int]:
        value, _from_env = self.raw(name)
        if value is None:
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise self.problem(name, f"must be a whole number, got {value!r}") from None
        if isinstance(value, bool) or number <= 0:
            raise self.problem(name, "must be a positive whole number")
        return number

    def signal_number(self) -> Optional[int]:
        value, _from_env = self.raw("interrupt_signal")
        if value is None:
            return default_interrupt_signal()
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        name = str(value).strip().upper()
        name = name if name.startswith("SIG") else "SIG" + name
        # Signals only: the signal module also has SIG_IGN, SIG_SETMASK, ... (0, 1, 2).
        number = signal.Signals.__members__.get(name)
        if number is None:
            raise self.problem("interrupt_signal", f"unknown signal {value!r}")
        return int(number)

    def store(self, name: str) -> Union[bool, str]:
        """``True`` (the per-user default directory), ``False``, a directory path, or
        (``session_store`` only) a ``redis://``/``rediss://`` URL; ``file://`` URLs are
        paths."""
        value, _from_env = self.raw(name)
        if value is None or value is False:
            return False
        if value is True:
            return True
        if isinstance(value, os.PathLike):
            return str(os.fspath(value))
        if not isinstance(value, str):
            raise self.problem(name, "must be True, False or a directory path")
        text = value.strip()
        word = text.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        if word.startswith(("redis://", "rediss://")):
            if name != "session_store":
                raise self.problem(name, "a redis:// store is set with session_store")
            return text
        if word.startswith("file://"):
            path = urllib.parse.unquote(urllib.parse.urlsplit(text).path)
            if not path:
                raise self.problem(name, "a file:// URL needs a path")
            return path
        if "://" in word:
            # Not shown: a store URL may carry a password.
            raise self.problem(name, "must be a path, file://, redis:// or rediss:// URL")
        return text

    def session_store(self) -> Tuple[Union[bool, str], Union[bool, str]]:
        """``(session_cache, session_store)``: ``session_cache`` is the file store's older
        name; both given and different is an error, else each mirrors the other."""
        cache = self.store("session_cache")
        store = self.store("session_store")
        if cache is not False and store is not False and cache != store:
            raise self.problem(
                "session_store", "session_cache and session_store name different stores"
            )
        store = store if store is not False else cache
        is_url = isinstance(store, str) and "://" in store
        return (False if is_url else store), store


def _name(value: Any, argument: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{argument} must be a non-empty string", argument=argument)
    return value.strip()


def _exit_code(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise ConfigurationError(
            "exit_code must be a whole number from 0 to 255", argument="exit_code"
        )
    return value


def _optional_seconds(value: Any, argument: str) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(
            f"{argument} must be a positive number of seconds", argument=argument
        )
    return float(value)


def _optional_text(value: Any, argument: str) -> Optional[str]:
    if value is None:
        return None
    return _name(value, argument)


def _flag(value: Any, argument: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{argument} must be True or False", argument=argument)
    return value
