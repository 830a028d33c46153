"""Where the client's traffic may go: the base URL rule and the proxy choice.

Kept apart from ``_http`` (which loads urllib3 to send): settings are
checked, and a heartbeat interval judged, before anything is sent, and a
restart that resumes a cached session sends nothing at all.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import urllib.parse
from typing import Any


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: Any) -> tuple[str, str]:
    """``(normalised base url, host)``; ``ValueError`` for anything but https or loopback http.

    Refusing plain http to a remote host here means not a byte is ever sent
    in the clear, whatever the caller does next.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("api_base_url must be a non-empty URL")
    parts = urllib.parse.urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("https", "http") or not host:
        raise ValueError(f"api_base_url must be an https:// URL, got {url!r}")
    if scheme == "http" and not is_loopback_host(host):
        raise ValueError(
            f"refusing plain http to {host!r}: AuthForge traffic must use https "
            "(http is allowed only to a loopback address, for local testing)"
        )
    return url.strip().rstrip("/"), host


# ------------------------------------------------------------------ proxies


def choose_proxy(base_url: str, host: str, explicit: str | None) -> str | None:
    """The proxy a request to ``base_url`` goes through, or ``None`` to go straight there.

    The one rule for the drop-in client and the Guard alike, whichever setting
    names the proxy (``proxy_url=``, ``AUTHFORGE_PROXY_URL``, ``HTTPS_PROXY``):

    - A loopback target is never proxied: it never leaves the machine, and a
      proxy (whoever set it) has no business seeing, let alone rewriting, its
      traffic, which may be plain http.
    - A host that ``NO_PROXY``/``no_proxy`` names is never proxied either (the
      user's own word on their network).
    - Otherwise the explicit ``proxy_url``, else the environment's proxy for
      the scheme (on macOS and Windows, the system's settings, as urllib reads them).
    """
    if is_loopback_host(host) or _bypasses_proxy(host):
        return None
    if explicit is not None:
        return explicit
    return _system_proxies().get(urllib.parse.urlsplit(base_url).scheme)


def _system_proxies() -> dict[str, str]:
    if sys.platform in ("darwin", "win32"):
        import urllib.request  # the system's proxy settings live outside the environment there

        return urllib.request.getproxies()
    return _environment_proxies()


def _environment_proxies() -> dict[str, str]:
    """``scheme -> proxy`` from ``*_proxy`` variables, as ``urllib.request`` reads them
    (lowercase wins; ``HTTP_PROXY`` is ignored under CGI), without importing it."""
    proxies: dict[str, str] = {}
    for name, value in os.environ.items():
        if value and name[-6:].lower() == "_proxy":
            proxies[name[:-6].lower()] = value
    if "REQUEST_METHOD" in os.environ:  # CVE-2016-1000110: a CGI request sets HTTP_PROXY
        proxies.pop("http", None)
    for name, value in os.environ.items():
        if name[-6:] == "_proxy":
            if value:
                proxies[name[:-6]] = value
            else:
                proxies.pop(name[:-6], None)
    return proxies


def _bypasses_proxy(host: str) -> bool:
    """True when ``NO_PROXY``/``no_proxy`` names ``host``.

    Entries are ``*``, a host name (which also covers its subdomains, with or
    without a leading dot), an IP address, or an IP network in CIDR form.
    """
    if sys.platform in ("darwin", "win32") and not _environment_proxies().get("no"):
        import urllib.request

        return bool(urllib.request.proxy_bypass(host))
    no_proxy = _environment_proxies().get("no", "")
    name = host.strip("[]").lower().rstrip(".")
    try:
        address: Any | None = ipaddress.ip_address(name)
    except ValueError:
        address = None
    for entry in no_proxy.replace(" ", ",").split(","):
        entry = entry.strip().lower().lstrip(".").rstrip(".")
        if not entry:
            continue
        if entry == "*":
            return True
        entry_host = entry.strip("[]")
        if address is not None and "/" in entry_host:
            try:
                if address in ipaddress.ip_network(entry_host, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if address is None and ":" in entry_host and entry_host.count(":") == 1:
            entry_host = entry_host.split(":", 1)[0]  # host:port: the port is not ours to judge
        if name == entry_host or name.endswith("." + entry_host):
            return True
    return False


# The hosted service allows six heartbeats a minute per session.
MIN_REMOTE_HEARTBEAT_INTERVAL = 10.0


def check_heartbeat_interval(interval: Any, host: str) -> float:
    """``interval`` as seconds, or ``ValueError`` (also used to check a Guard's settings)."""
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
        raise ValueError("heartbeat_interval must be a positive number of seconds")
    # Loopback servers are ours (tests, the demo): any positive interval, so
    # tests never sleep. The real service allows 6 heartbeats a minute.
    if interval < MIN_REMOTE_HEARTBEAT_INTERVAL and not is_loopback_host(host):
        raise ValueError("heartbeat_interval must be >= 10")
    return float(interval)
