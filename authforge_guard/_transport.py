"""Layer 2: how request bytes reach AuthForge.

One ``urllib3`` pool per client (keep-alive, TCP_NODELAY), TLS verification
always on, proxies, the protocol's retry policy with a fresh nonce per retry,
and the single place where urllib3 and socket errors become ``AuthForgeError``
codes. Nothing else in the package catches them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import socket
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, NamedTuple, Optional, Tuple

from ._clock import bounded_wait
from ._exceptions import AuthForgeError
from ._protocol import compact_json_bytes, new_nonce, server_verdict_code
from ._retry import RetryPolicy
from ._version import __version__

if TYPE_CHECKING:
    import urllib3

logger = logging.getLogger("authforge_guard")

# Answers are small JSON objects; an offline file with variables is a few KiB.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
USER_AGENT = f"authforge-guard/{__version__} (python)"
_HEADERS = {"Content-Type": "application/json", "User-Agent": USER_AGENT}


class Reply(NamedTuple):
    """A JSON-object answer, its HTTP status, and the nonce of the attempt that produced it."""

    status: int
    data: Dict[str, Any]
    nonce: Optional[str]


def is_loopback_host(host: Optional[str]) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: Any) -> Tuple[str, str]:
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


class Transport:
    """POSTs JSON bodies to one AuthForge base URL and returns JSON-object replies.

    The pool is created on the first request, so building a client costs no
    sockets and no urllib3 import.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 15.0,
        proxy_url: Optional[str] = None,
        ca_bundle: Optional[str] = None,
        retry: Optional[RetryPolicy] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url, self.host = check_base_url(base_url)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError("request_timeout must be a positive number of seconds")
        if ca_bundle is not None and not os.path.exists(ca_bundle):
            raise ValueError(f"ca_bundle {ca_bundle!r} does not exist")
        self.timeout = float(timeout)
        self.proxy_url = proxy_url if proxy_url is not None else self._proxy_from_environment()
        self.ca_bundle = ca_bundle
        self.retry = retry if retry is not None else RetryPolicy()
        self._sleep = sleep
        self._path_prefix = urllib.parse.urlsplit(self.base_url).path
        self._pool: Optional[urllib3.PoolManager] = None
        self._base_pool: Optional[urllib3.HTTPConnectionPool] = None
        self._pool_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    def _proxy_from_environment(self) -> Optional[str]:
        if is_loopback_host(self.host):
            return None
        import urllib.request  # the system's proxy settings; not needed for loopback

        scheme = urllib.parse.urlsplit(self.base_url).scheme
        proxy = urllib.request.getproxies().get(scheme)
        if proxy and not urllib.request.proxy_bypass(self.host):
            return proxy
        return None

    def _manager(self) -> urllib3.PoolManager:
        with self._pool_lock:
            return self._manager_locked()

    def _manager_locked(self) -> urllib3.PoolManager:
        if self._pool is None:
            self._pool = self._build_pool()
        return self._pool

    def _opener(self, path: str) -> Tuple[Any, str]:
        """What a request to ``path`` goes through, and the URL to give it."""
        if self.proxy_url:
            # The proxy manager adds the proxy's headers and picks the URL form.
            return self._manager(), self.base_url + path
        # Straight to the base URL's pool: the manager would parse the URL and
        # look the pool up again on every request.
        return self._connection_pool(), self._path_prefix + path

    def _connection_pool(self) -> urllib3.HTTPConnectionPool:
        """The manager's pool for the base URL, looked up once: every request goes there."""
        with self._pool_lock:
            if self._base_pool is None:
                self._base_pool = self._manager_locked().connection_from_url(self.base_url)
            return self._base_pool

    def _build_pool(self) -> urllib3.PoolManager:
        import urllib3
        from urllib3.connection import HTTPConnection

        wait = bounded_wait(self.timeout)
        options: Dict[str, Any] = {
            "num_pools": 2,
            "maxsize": 4,
            "retries": False,
            "timeout": urllib3.Timeout(connect=wait, read=wait),
            "cert_reqs": "CERT_REQUIRED",  # there is deliberately no way to turn this off
            "socket_options": [
                *HTTPConnection.default_socket_options,
                (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
                (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
            ],
            "headers": _HEADERS,
        }
        if self.ca_bundle:
            options["ca_certs"] = self.ca_bundle
        if self.proxy_url:
            return urllib3.ProxyManager(self.proxy_url, **options)
        return urllib3.PoolManager(**options)

    def close(self) -> None:
        """Drop pooled connections; the next request opens new ones."""
        with self._pool_lock:
            pool, self._pool, self._base_pool = self._pool, None, None
        if pool is not None:
            pool.clear()

    def post(
        self, path: str, body: Dict[str, Any], *, retry: Optional[RetryPolicy] = None
    ) -> Reply:
        """Send ``body`` with the protocol's retries; the reply is a JSON object.

        Raises ``AuthForgeError`` with ``network_error``, ``timeout``,
        ``http_error_<status>``, ``invalid_json_response`` or
        ``response_not_json_object``. A retry replaces ``body["nonce"]`` (when
        present) with a fresh one; ``Reply.nonce`` is the one to find echoed.
        ``retry`` replaces the transport's policy for this one request.
        """
        policy = retry if retry is not None else self.retry
        sent = dict(body)
        rate_attempt = network_attempt = 0
        while True:
            try:
                status, retry_after, raw = self._send(path, sent)
            except _RetryableNetworkError as failure:
                delay = policy.network_delay(network_attempt)
                if delay is None:
                    raise failure.error from failure.__cause__
                network_attempt += 1
                logger.debug("%s: %s, retrying in %.2fs", path, failure.error.code, delay)
                self._wait_and_refresh(sent, delay)
                continue
            data = _decode_object(status, raw)
            if _is_rate_limited(status, data):
                delay = policy.rate_limit_delay(rate_attempt, retry_after)
                if delay is not None:
                    rate_attempt += 1
                    logger.debug("%s: rate limited, retrying in %.2fs", path, delay)
                    self._wait_and_refresh(sent, delay)
                    continue
            if data is None:
                raise _undecodable(status, raw)
            nonce = sent.get("nonce")
            return Reply(status, data, nonce if isinstance(nonce, str) else None)

    def _wait_and_refresh(self, sent: Dict[str, Any], delay: float) -> None:
        self._sleep(delay)
        if "nonce" in sent:
            sent["nonce"] = new_nonce()

    def _send(self, path: str, body: Dict[str, Any]) -> Tuple[int, Optional[str], bytes]:
        payload = compact_json_bytes(body)
        started = time.perf_counter()
        with _map_transport_errors(self.base_url):
            opener, url = self._opener(path)
            response = opener.urlopen(
                "POST",
                url,
                body=payload,
                headers=_HEADERS,
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
            )
            try:
                raw = response.read(MAX_RESPONSE_BYTES + 1)
            except BaseException:
                response.close()  # a half-read connection must not go back to the pool
                raise
        if len(raw) > MAX_RESPONSE_BYTES:
            response.close()
            raise AuthForgeError("unexpected_response", "unexpected_response: answer too large")
        response.release_conn()
        logger.debug(
            "POST %s -> %d in %.1f ms", path, response.status, (time.perf_counter() - started) * 1e3
        )
        return response.status, response.headers.get("Retry-After"), raw


class _RetryableNetworkError(Exception):
    """A network failure the retry policy may try again (carries the public error)."""

    def __init__(self, error: AuthForgeError) -> None:
        super().__init__(error.code)
        self.error = error


@contextlib.contextmanager
def _map_transport_errors(base_url: str) -> Iterator[None]:
    """The one seam where urllib3 and socket failures become AuthForge codes."""
    import urllib3.exceptions as u3

    try:
        yield
    except u3.SSLError as exc:
        # A certificate problem does not go away in 2 s: fail closed, no retry.
        raise AuthForgeError("network_error", f"network_error: TLS failure for {base_url}") from exc
    except u3.NewConnectionError as exc:
        # Checked before timeouts: urllib3 makes it a ConnectTimeoutError subclass.
        raise _RetryableNetworkError(
            AuthForgeError("network_error", f"network_error: cannot connect to {base_url}")
        ) from exc
    except (u3.TimeoutError, socket.timeout, TimeoutError) as exc:
        raise _RetryableNetworkError(
            AuthForgeError("timeout", f"timeout: no answer from {base_url} in time")
        ) from exc
    except u3.MaxRetryError as exc:
        code = "timeout" if isinstance(exc.reason, u3.TimeoutError) else "network_error"
        raise _RetryableNetworkError(
            AuthForgeError(code, f"{code}: cannot reach {base_url}")
        ) from exc
    except (u3.HTTPError, OSError) as exc:
        raise _RetryableNetworkError(
            AuthForgeError("network_error", f"network_error: cannot reach {base_url}")
        ) from exc


def _decode_object(status: int, raw: bytes) -> Optional[Dict[str, Any]]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _undecodable(status: int, raw: bytes) -> AuthForgeError:
    """The error for an answer that is not a JSON object (a proxy page, a cut body)."""
    if status >= 400:
        code = f"http_error_{status}"
        return AuthForgeError(code, f"{code}: not an AuthForge answer")
    try:
        json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return AuthForgeError("invalid_json_response")
    return AuthForgeError("response_not_json_object")


def _is_rate_limited(status: int, data: Optional[Dict[str, Any]]) -> bool:
    """``rate_limited``, or a 429 without a code (never ``no_credits`` and its kind)."""
    code = server_verdict_code(data) if data is not None else None
    return code == "rate_limited" or (status == 429 and code is None)
