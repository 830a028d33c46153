"""Which requests go through a proxy: never loopback ones to a proxy elsewhere, never a
host that ``NO_PROXY`` names, whatever ``HTTPS_PROXY`` or ``proxy_url`` say.

A proxy on another address would carry plain-http loopback traffic across the
network in clear text; ``NO_PROXY`` is the user's word that a host is reached
directly. Each case runs a real request and reads the recording proxy
(``tests/support/connect_proxy.py``) to see whether it was used.
"""

from __future__ import annotations

import socket
import threading

import pytest

from authforge_guard._transport._addresses import _environment_proxies, choose_proxy
from authforge_guard._transport._http import Transport
from tests.support.connect_proxy import ConnectProxy
from tests.support.fault_proxy import FaultProxy
from tests.support.network import non_loopback_address
from tests.support.tls import self_signed

ADDRESS = non_loopback_address()
needs_address = pytest.mark.skipif(ADDRESS is None, reason="no non-loopback address")


class Relay:
    """Relays TCP from ``ADDRESS:<port>`` to a loopback port, byte for byte (TLS passes
    through untouched), so a server that listens on loopback is reached at a remote-looking
    address. ``accepted`` counts the connections it took."""

    def __init__(self, target_port: int, host: str = "") -> None:
        self.target_port = target_port
        self.accepted = 0
        self._listener = socket.create_server((host or ADDRESS, 0))
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._handlers: list = []
        self._connections: list = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.accepted += 1
            self._connections.append(conn)
            handler = threading.Thread(target=self._relay, args=(conn,), daemon=True)
            self._handlers.append(handler)
            handler.start()

    def _relay(self, conn: socket.socket) -> None:
        with conn:
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                return  # nothing listens there: the client sees its connection closed
            with upstream:
                back = threading.Thread(target=self._pump, args=(upstream, conn), daemon=True)
                back.start()
                self._pump(conn, upstream)
                back.join(10)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._connections:  # a client's kept-alive connection ends here
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for handler in self._handlers:
            handler.join(10)
        self._listener.close()


@pytest.fixture
def proxy_env(monkeypatch):
    """Clears every proxy variable, then sets the ones a test names."""
    for name in (
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)

    def set_env(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


@pytest.fixture
def tunnel():
    with ConnectProxy() as proxy:
        yield proxy


@pytest.fixture
def tls_af(tmp_path):
    from authforge_guard.testing import LocalAuthForge

    with LocalAuthForge(heartbeat_rate_limit=None, tls=True) as server:
        yield server


def test_https_proxy_is_ignored_for_a_loopback_https_server(tls_af, proxy_env, tunnel):
    proxy_env(HTTPS_PROXY=tunnel.url, https_proxy=tunnel.url)
    client = tls_af.client(hwid_override="test-machine")
    assert client.validate_license(tls_af.create_license())["valid"]
    assert tunnel.targets == []


def test_http_proxy_is_ignored_for_a_loopback_http_server(af, proxy_env, tunnel):
    proxy_env(HTTP_PROXY=tunnel.url, http_proxy=tunnel.url, HTTPS_PROXY=tunnel.url)
    client = af.client(hwid_override="test-machine")
    assert client.validate_license(af.create_license())["valid"]
    assert tunnel.targets == [] and tunnel.relayed == b""


@needs_address
def test_an_explicit_proxy_elsewhere_never_carries_loopback_traffic(af, proxy_env):
    """The proxy listens on this machine's network address: plain http sent to it would
    cross the network. The request goes straight to loopback; the proxy sees nothing."""
    elsewhere = Relay(target_port=9)  # it would relay to a closed port: never reached
    try:
        client = af.client(
            hwid_override="test-machine", proxy_url=f"http://{ADDRESS}:{elsewhere.port}"
        )
        assert client.validate_license(af.create_license())["valid"]
        assert elsewhere.accepted == 0
    finally:
        elsewhere.close()


@pytest.fixture
def remote_looking_server(af, tmp_path):
    """``https://ADDRESS:<port>``: a TLS server with a certificate for ADDRESS, answering
    for ``af``, reached through a relay on the machine's network address."""
    certificate = self_signed(tmp_path, hosts=(ADDRESS,))
    with FaultProxy(af.url, tls=certificate.server_context()) as front:
        relay = Relay(target_port=int(front.url.rsplit(":", 1)[1]))
        try:
            yield f"https://{ADDRESS}:{relay.port}", str(certificate.cert_path)
        finally:
            relay.close()


@needs_address
@pytest.mark.parametrize(
    "no_proxy", [None, "{address}", "example.org, {address}", ".example.org,{network}", "*"]
)
def test_no_proxy_hosts_are_reached_directly(
    af, proxy_env, tunnel, remote_looking_server, no_proxy
):
    url, ca_bundle = remote_looking_server
    proxy_env(HTTPS_PROXY=tunnel.url)
    if no_proxy is not None:
        network = ADDRESS.rsplit(".", 1)[0] + ".0/24"
        proxy_env(NO_PROXY=no_proxy.format(address=ADDRESS, network=network))
    client = af.client(hwid_override="test-machine", api_base_url=url, ca_bundle=ca_bundle)
    try:
        assert client.validate_license(af.create_license())["valid"]
    finally:
        client._transport.close()  # its kept-alive socket must not wait for the collector
    if no_proxy is None:  # the control: without NO_PROXY, the environment's proxy is used
        assert tunnel.targets == [url.split("//", 1)[1]]
    else:
        assert tunnel.targets == []


@needs_address
def test_no_proxy_applies_to_an_explicit_proxy_url_too(
    af, proxy_env, tunnel, remote_looking_server
):
    url, ca_bundle = remote_looking_server
    proxy_env(no_proxy=ADDRESS)
    client = af.client(
        hwid_override="test-machine", api_base_url=url, ca_bundle=ca_bundle, proxy_url=tunnel.url
    )
    try:
        assert client.validate_license(af.create_license())["valid"]
    finally:
        client._transport.close()
    assert tunnel.targets == []


@pytest.mark.parametrize(
    ("host", "no_proxy", "bypassed"),
    [
        ("api.authforge.cc", "authforge.cc", True),  # a domain covers its subdomains
        ("api.authforge.cc", ".authforge.cc", True),
        ("api.authforge.cc", "AuthForge.CC.", True),
        ("evilauthforge.cc", "authforge.cc", False),  # a suffix is not a subdomain
        ("api.authforge.cc", "other.org,  api.authforge.cc:443", True),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("10.1.2.3", "11.0.0.0/8", False),
        ("::1", "::1", True),
        ("api.authforge.cc", "", False),
    ],
)
def test_no_proxy_matching(proxy_env, host, no_proxy, bypassed):
    proxy_env(HTTPS_PROXY="http://proxy.example:3128", NO_PROXY=no_proxy)
    chosen = choose_proxy(f"https://{host}", host, None)
    assert chosen == (None if bypassed else "http://proxy.example:3128")


def test_lowercase_proxy_variables_win_and_cgi_ignores_http_proxy(proxy_env):
    proxy_env(HTTPS_PROXY="http://upper:1", https_proxy="http://lower:1")
    assert Transport("https://api.example").proxy_url == "http://lower:1"
    proxy_env(HTTP_PROXY="http://upper:1", REQUEST_METHOD="GET")  # set by a CGI request
    assert "http" not in _environment_proxies()
