"""Issue 25, "also seen": one proxy rule for the drop-in client and the Guard.

Before, with ``AUTHFORGE_PROXY_URL`` naming a proxy on loopback and the API on
loopback, ``AuthForgeClient`` went direct and the Guard through the proxy. Now
one function (``_addresses.choose_proxy``) decides for both: a loopback server
is never proxied, whichever setting names the proxy; a remote one goes through
it. Both paths are tested, for every setting and both front ends.
"""

from __future__ import annotations

import pytest

from authforge_guard import AuthForgeClient, Guard
from authforge_guard._transport._addresses import choose_proxy

from .forwarder import API_URL, RewritingForwarder

SETTINGS = ["proxy_url=", "AUTHFORGE_PROXY_URL", "HTTPS_PROXY"]


@pytest.fixture
def users_proxy(af, tmp_path, monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with RewritingForwarder(af.url, tmp_path / "proxy") as proxy:
        yield proxy


def licensed_through(af, proxy, monkeypatch, *, front, setting, api, ca_bundle=None):
    """Log in once with ``front`` ("client" or "guard"), the proxy named by ``setting``."""
    key = af.create_license({"tier": "pro"})
    explicit = proxy.url if setting == "proxy_url=" else None
    environ = {"AUTHFORGE_PROXY_URL": proxy.url} if setting == "AUTHFORGE_PROXY_URL" else {}
    if setting == "HTTPS_PROXY":
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
    if front == "client":
        if setting == "AUTHFORGE_PROXY_URL":
            explicit = proxy.url  # the drop-in has no variables: its code passes the setting
        client = AuthForgeClient(
            af.app_id,
            af.app_secret,
            af.public_key,
            api_base_url=api,
            proxy_url=explicit,
            ca_bundle=ca_bundle,
            on_failure=lambda reason, error: None,
        )
        return client.validate_license(key)["valid"]
    guard = Guard(
        app_id=af.app_id,
        public_key=af.public_key,
        api_base_url=api,
        app_secret=af.app_secret,
        license_key=key,
        proxy_url=explicit,
        ca_bundle=ca_bundle,
        environ=environ,
    )
    try:
        return guard.ensure().tier == "pro"
    finally:
        guard.logout()


@pytest.mark.parametrize("front", ["client", "guard"])
@pytest.mark.parametrize("setting", SETTINGS)
def test_a_loopback_server_is_never_proxied(af, users_proxy, monkeypatch, front, setting):
    assert licensed_through(af, users_proxy, monkeypatch, front=front, setting=setting, api=af.url)
    assert users_proxy.connections == 0


@pytest.mark.parametrize("front", ["client", "guard"])
@pytest.mark.parametrize("setting", SETTINGS)
def test_a_remote_server_goes_through_the_proxy(af, users_proxy, monkeypatch, front, setting):
    assert licensed_through(
        af,
        users_proxy,
        monkeypatch,
        front=front,
        setting=setting,
        api=API_URL,
        ca_bundle=users_proxy.ca_bundle,
    )
    assert users_proxy.count(users_proxy.forwarded, "/auth/validate") == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.9.9.9"])
def test_the_one_rule(host, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    url = f"https://[{host}]" if ":" in host else f"https://{host}"
    assert choose_proxy(url, host, None) is None
    assert choose_proxy(url, host, "http://127.0.0.1:3128") is None
    assert choose_proxy(API_URL, "auth.vendor-licensing.test", None) == "http://127.0.0.1:3128"
