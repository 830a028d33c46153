"""Requests reach the server straight through the base URL's pool, or through a proxy."""

import http.client
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from authforge_guard import AuthForgeClient
from tests.security.forwarder import API_URL, RewritingForwarder


class ForwardingProxy(BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy: takes absolute-form requests, forwards, answers."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[str]] = []

    def do_POST(self):
        target = urllib.parse.urlsplit(self.path)
        self.seen.append(self.path)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        upstream.request(
            "POST", target.path, body=body, headers={"Content-Type": self.headers["Content-Type"]}
        )
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy():
    ForwardingProxy.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ForwardingProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_without_a_proxy_every_request_reuses_one_connection(af, make_client):
    client = make_client()
    key = af.create_license()
    for _ in range(3):
        assert client.validate_license(key)["valid"]
    pool = client._transport._connection_pool()
    assert pool.num_connections == 1 and pool.num_requests == 3


def test_with_a_proxy_requests_go_through_it(af, tmp_path):
    """A remote API through the user's proxy and CA (loopback itself is never proxied)."""
    key = af.create_license()
    with RewritingForwarder(af.url, tmp_path) as proxy:
        client = AuthForgeClient(
            af.app_id,
            af.app_secret,
            af.public_key,
            api_base_url=API_URL,
            proxy_url=proxy.url,
            ca_bundle=proxy.ca_bundle,
            hwid_override="test-machine",
            on_failure=lambda reason, error: None,
        )
        assert client.validate_license(key)["valid"]
        assert client.login(key)
        client.logout()
        assert proxy.count(proxy.forwarded, "/auth/validate") == 2


def test_a_proxy_is_never_used_for_a_loopback_server(af, make_client, proxy):
    client = make_client(proxy_url=f"http://127.0.0.1:{proxy.server_address[1]}")
    assert client.validate_license(af.create_license())["valid"]
    assert ForwardingProxy.seen == []
