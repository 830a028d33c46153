"""The local server's connections: one selector loop that waits, a few workers that answer.

Why not a thread per connection (the standard library's ``ThreadingHTTPServer``):
a client that opens connections and sends nothing, or a byte now and then,
then costs a thread and its stack each, without bound. Here:

- one loop thread owns every connection while it waits for a request: it
  accepts, reads whatever has arrived without blocking, and hands the
  connection to a worker only once a whole request is in, or when a TLS
  handshake step is due (CPU work, kept off the loop). A waiting connection
  costs a socket and a buffer, never a thread;
- a fixed pool of workers runs the endpoints and writes the answers, then
  gives a kept-alive connection back to the loop;
- deadlines: a request must arrive whole within ``request_timeout`` of its
  first byte (of the connection, TLS handshake included, for the first
  request), however slowly it drips; a kept-alive connection may idle for
  ``idle_timeout`` between requests;
- at ``max_connections`` (never more than the file-descriptor limit allows),
  a new connection makes room by closing the one that has waited longest:
  a flood of idle connections cannot lock a legitimate client out.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import queue
import selectors
import socket
import ssl
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

from ._endpoints import Endpoints
from ._http import Parsed, Problem, RequestReader, answer_problem, answer_request

logger = logging.getLogger("authforge_guard.server")

_TICK_SECONDS = 0.25  # how often deadlines are checked
_RECV_BYTES = 65536
_ACCEPTS_PER_WAKE = 64
_BACKLOG = 1024
_FD_RESERVE = 64  # descriptors left for the database, logs and the process itself
_ACCEPT_PAUSE_SECONDS = 0.1  # out of descriptors with nothing to close: wait this long
_OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_LISTENER = "listener"
_WAKER = "waker"


@dataclass(frozen=True)
class Limits:
    """What one client may cost the server; see the module docstring."""

    max_connections: int = 4096
    workers: int = 8
    request_timeout: float = 10.0
    idle_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.workers < 1:
            raise ValueError("max_connections and workers must be at least 1")
        if not (self.request_timeout > 0 and self.idle_timeout > 0):
            raise ValueError("request_timeout and idle_timeout must be positive")


class _Gone(Exception):
    """The peer closed, reset or broke TLS: the connection is dropped."""


class _Connection:
    """One client connection and where it stands."""

    __slots__ = (
        "answered",
        "busy",
        "closed",
        "deadline",
        "events",
        "handshaking",
        "idle",
        "ip",
        "reader",
        "sock",
        "waiting_since",
    )

    def __init__(self, sock: socket.socket, ip: str, handshaking: bool, deadline: float) -> None:
        self.sock = sock
        self.ip = ip
        self.reader = RequestReader()
        self.handshaking = handshaking
        self.busy = False  # with a worker (not registered with the selector)
        self.answered = False  # a worker wrote an answer since it took the connection
        self.closed = False
        self.idle = False  # between requests (a fresh connection owes one at once)
        self.deadline = deadline
        self.waiting_since = time.monotonic()
        self.events = selectors.EVENT_READ

    def take_request(self) -> Parsed | None:
        """The next whole request, reading what has arrived without blocking; ``None`` for
        "not yet". Raises ``_Gone`` when the peer is gone."""
        while True:
            item = self.reader.next()
            if item is not None:
                return item
            if self.reader.failed:
                raise _Gone
            try:
                data = self.sock.recv(_RECV_BYTES)
            except (BlockingIOError, ssl.SSLWantReadError):
                self.events = selectors.EVENT_READ
                return None
            except ssl.SSLWantWriteError:  # TLS needs to write before it can read
                self.events = selectors.EVENT_WRITE
                return None
            except (OSError, ValueError) as exc:
                raise _Gone from exc
            if not data:
                raise _Gone
            self.reader.feed(data)

    def send_now(self, data: bytes) -> None:
        """Best effort, never blocking: for ``100 Continue`` and a last ``408``."""
        with contextlib.suppress(OSError, ValueError):
            self.sock.send(data)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError, ValueError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError, ValueError):
            self.sock.close()


class LocalHTTPServer:
    """Listens on ``address`` and serves ``endpoints`` until ``stop``; see the module docstring."""

    def __init__(
        self,
        address: tuple[str, int],
        endpoints: Endpoints,
        tls: ssl.SSLContext | None = None,
        limits: Limits = Limits(),
    ) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            if sys.platform != "win32":  # restart on the same port at once, as HTTPServer does
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(address)
            listener.listen(_BACKLOG)
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self.server_address: tuple[str, int] = listener.getsockname()[:2]
        self.endpoints = endpoints
        self.tls = tls
        self.limits = limits
        self.max_connections = _bounded_by_descriptors(limits.max_connections)
        self._selector = selectors.DefaultSelector()
        self._selector.register(listener, selectors.EVENT_READ, _LISTENER)
        self._waker, self._wake_end = socket.socketpair()
        self._waker.setblocking(False)
        self._wake_end.setblocking(False)
        self._selector.register(self._waker, selectors.EVENT_READ, _WAKER)
        self._connections: set[_Connection] = set()
        self._connections_lock = threading.Lock()  # for readers on other threads
        self._returned: deque[_Connection] = deque()
        self._jobs: queue.SimpleQueue[tuple[_Connection, Parsed | None] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._accept_paused_until: float | None = None

    # --- life cycle ---------------------------------------------------------------------

    def start(self, name: str) -> None:
        """Start the loop thread and the workers (daemon threads)."""
        self._threads.append(threading.Thread(target=self._loop, name=name, daemon=True))
        for index in range(self.limits.workers):
            self._threads.append(
                threading.Thread(target=self._work, name=f"{name}-worker-{index}", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def stop(self, grace: float) -> None:
        """Close the listener and every connection; wait (at most ``grace``) for the threads."""
        self._stopping.set()
        self._wake()
        if not self._threads:  # never started: the loop is not there to close things
            self._close_all()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def connections(self) -> list[socket.socket]:
        """The sockets of the open connections (a snapshot)."""
        with self._connections_lock:
            return [conn.sock for conn in self._connections]

    # --- the loop -----------------------------------------------------------------------

    def _loop(self) -> None:
        next_sweep = time.monotonic() + _TICK_SECONDS
        try:
            while not self._stopping.is_set():
                events = self._selector.select(_TICK_SECONDS)
                now = time.monotonic()
                for key, _mask in events:
                    if key.data == _LISTENER:
                        self._accept(now)
                    elif key.data == _WAKER:
                        self._drain_waker()
                    elif not key.data.closed:
                        self._ready(key.data, now)
                self._take_back(now)
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + _TICK_SECONDS
                if self._accept_paused_until is not None and now >= self._accept_paused_until:
                    self._accept_paused_until = None
                    self._selector.register(self._listener, selectors.EVENT_READ, _LISTENER)
        except Exception:  # a bug here: say so, and close everything rather than hang
            logger.exception("the local server's connection loop failed")
        finally:
            self._close_all()

    def _accept(self, now: float) -> None:
        for _ in range(_ACCEPTS_PER_WAKE):
            try:
                sock, address = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_DESCRIPTORS:
                    if not self._evict():
                        self._pause_accepting(now)
                    return
                continue  # a client that left before it was accepted
            if len(self._connections) >= self.max_connections and not self._evict():
                sock.close()
                continue
            self._adopt(sock, str(address[0]), now)

    def _adopt(self, sock: socket.socket, ip: str, now: float) -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        handshaking = False
        if self.tls is not None:
            try:
                # No I/O here: the handshake is a worker's job.
                sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (OSError, ValueError):
                sock.close()
                return
            handshaking = True
        conn = _Connection(sock, ip, handshaking, now + self.limits.request_timeout)
        with self._connections_lock:
            self._connections.add(conn)
        self._selector.register(sock, selectors.EVENT_READ, conn)

    def _ready(self, conn: _Connection, now: float) -> None:
        """Bytes (or room to write) on a waiting connection."""
        if conn.handshaking:
            self._dispatch(conn, None)
            return
        try:
            item = conn.take_request()
        except _Gone:
            self._drop(conn)
            return
        if item is not None:
            self._dispatch(conn, item)
            return
        if conn.idle and conn.reader.pending:  # a new request begins: its clock starts
            conn.idle = False
            conn.deadline = now + self.limits.request_timeout
        if conn.reader.take_continue():
            conn.send_now(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self._selector.get_key(conn.sock).events != conn.events:
            self._selector.modify(conn.sock, conn.events, conn)

    def _dispatch(self, conn: _Connection, item: Parsed | None) -> None:
        self._selector.unregister(conn.sock)
        conn.busy = True
        conn.answered = False
        self._jobs.put((conn, item))

    def _take_back(self, now: float) -> None:
        """Re-register the connections the workers are done with."""
        while self._returned:
            conn = self._returned.popleft()
            conn.busy = False
            if conn.closed:
                self._forget(conn)
                continue
            if conn.answered:
                conn.idle = not conn.reader.pending
                conn.waiting_since = now
                timeout = self.limits.idle_timeout if conn.idle else self.limits.request_timeout
                conn.deadline = now + timeout
            if conn.reader.take_continue():  # a pipelined head came in with the last answer
                conn.send_now(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._selector.register(conn.sock, conn.events, conn)

    def _sweep(self, now: float) -> None:
        """Drop the connections past their deadline; a late request gets a 408 first."""
        for conn in [c for c in self._connections if not c.busy and now >= c.deadline]:
            if conn.reader.pending and not conn.handshaking:
                conn.send_now(answer_problem(Problem(408, "bad_request")))
            logger.debug("dropped a slow or idle connection from %s", conn.ip)
            self._drop(conn)

    def _evict(self) -> bool:
        """Close the waiting connection that has waited longest; False if none waits."""
        waiting = [conn for conn in self._connections if not conn.busy]
        if not waiting:
            return False
        victim = min(waiting, key=lambda conn: conn.waiting_since)
        logger.debug("at the connection limit: dropped the oldest waiting one (%s)", victim.ip)
        self._drop(victim)
        return True

    def _pause_accepting(self, now: float) -> None:
        if self._accept_paused_until is None:
            self._selector.unregister(self._listener)
        self._accept_paused_until = now + _ACCEPT_PAUSE_SECONDS

    def _drop(self, conn: _Connection) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.close()
        self._forget(conn)

    def _forget(self, conn: _Connection) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full: the loop is waking anyway
            self._wake_end.send(b"\0")

    def _drain_waker(self) -> None:
        with contextlib.suppress(OSError):
            while self._waker.recv(4096):
                pass

    def _close_all(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._listener.close()
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            if conn.busy:  # its worker closes it; this unblocks any write it is in
                with contextlib.suppress(OSError, ValueError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
            else:
                conn.close()
        while self._returned:
            self._returned.popleft().close()
        for _ in range(self.limits.workers):
            self._jobs.put(None)
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            self._selector.close()
        self._waker.close()
        self._wake_end.close()

    # --- the workers --------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            conn, item = job
            try:
                self._serve(conn, item)
            except Exception:
                logger.exception("unexpected error serving %s", conn.ip)
                conn.close()
            self._give_back(conn)

    def _serve(self, conn: _Connection, item: Parsed | None) -> None:
        """Answer ``item`` and whatever else is already in; then the loop waits for more."""
        if self._stopping.is_set():
            conn.close()
            return
        if conn.handshaking and not self._handshake(conn):
            return
        while True:
            if item is None:
                try:
                    item = conn.take_request()
                except _Gone:
                    conn.close()
                    return
                if item is None:
                    return
            if isinstance(item, Problem):
                answer, keep_alive = answer_problem(item), item.keep_alive
            else:
                answer = answer_request(self.endpoints, item, conn.ip)
                keep_alive = item.keep_alive
            conn.answered = True
            if not self._write(conn, answer) or not keep_alive or self._stopping.is_set():
                conn.close()
                return
            item = None

    def _handshake(self, conn: _Connection) -> bool:
        """One step of the TLS handshake; True once it is complete."""
        assert isinstance(conn.sock, ssl.SSLSocket)
        try:
            conn.sock.do_handshake()
        except ssl.SSLWantReadError:
            conn.events = selectors.EVENT_READ
            return False
        except ssl.SSLWantWriteError:
            conn.events = selectors.EVENT_WRITE
            return False
        except (OSError, ValueError) as exc:
            # Plain HTTP to the TLS port, an untrusted certificate on the client's
            # side, garbage, a client that left: that connection ends.
            logger.info("TLS handshake with %s failed: %s", conn.ip, exc)
            conn.close()
            return False
        conn.handshaking = False
        conn.events = selectors.EVENT_READ
        return True

    def _write(self, conn: _Connection, data: bytes) -> bool:
        """Send the whole answer (a client that does not read gets ``request_timeout``)."""
        try:
            conn.sock.settimeout(self.limits.request_timeout)
            conn.sock.sendall(data)
            conn.sock.setblocking(False)
        except (OSError, ValueError):
            return False
        return True

    def _give_back(self, conn: _Connection) -> None:
        self._returned.append(conn)
        self._wake()
        if self._stopping.is_set():  # the loop may be gone: nobody else closes it
            conn.close()


def _bounded_by_descriptors(wanted: int) -> int:
    """``wanted``, lowered to what the process's descriptor limit leaves room for."""
    if sys.platform == "win32":
        return min(wanted, 500)  # select() there takes at most 512 sockets
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return wanted
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - _FD_RESERVE))
