"""A fake Telegram Bot API on loopback, for aiogram and python-telegram-bot as they are.

Both libraries talk to it through their own HTTP clients (aiohttp, httpx): point
aiogram at ``TelegramAPIServer.from_base(api.url)`` and PTB at
``base_url(api.url + "/bot")``. It answers ``getMe``, long-polls ``getUpdates``
(with Telegram's offset rule), records ``sendMessage`` and ``deleteMessage``, and
says ``ok`` to anything else. A test plays the users: ``api.say(user_id, text)``
queues a private message, ``api.wait_replies(user_id, n)`` waits for the bot's.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT = {"id": 100000, "is_bot": True, "first_name": "Licensed", "username": "licensed_bot"}
TOKEN = "100000:TEST-token-for-a-fake-api"
MAX_POLL_SECONDS = 1.0  # answer long polls often: a stopping bot must not wait long


class FakeTelegram:
    """The fake API's state: the updates the bot has not fetched, and what it sent."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self.sent: list[dict[str, Any]] = []  # sendMessage calls, in order
        self.deleted: list[tuple[int, int]] = []  # (chat id, message id)
        self.calls: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeTelegram:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -------------------------------------------------------- the users' side

    def say(self, user_id: int, text: str) -> int:
        """User ``user_id`` writes ``text`` to the bot in a private chat; its message id."""
        message_id = next(self._message_ids)
        person = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": person["first_name"]},
            "from": person,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        with self._cond:
            self._updates.append({"update_id": next(self._update_ids), "message": message})
            self._cond.notify_all()
        return message_id

    def replies(self, user_id: int) -> list[str]:
        with self._cond:
            return [m["text"] for m in self.sent if int(m["chat_id"]) == user_id]

    def wait_replies(self, user_id: int, count: int, timeout: float = 30.0) -> list[str]:
        """The bot's first ``count`` replies to ``user_id`` (fewer if ``timeout`` passes)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                texts = [m["text"] for m in self.sent if int(m["chat_id"]) == user_id]
                left = deadline - time.monotonic()
                if len(texts) >= count or left <= 0:
                    return texts
                self._cond.wait(left)

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    # --------------------------------------------------------- the bot's side

    def call(self, method: str, params: dict[str, Any]) -> Any:
        with self._cond:
            self.calls.append(method)
        if method == "getMe":
            return BOT
        if method == "getUpdates":
            return self._get_updates(params)
        if method == "sendMessage":
            return self._send(params)
        if method == "deleteMessage":
            with self._cond:
                self.deleted.append((int(params["chat_id"]), int(params["message_id"])))
                self._cond.notify_all()
            return True
        return True

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), MAX_POLL_SECONDS)
        deadline = time.monotonic() + wait
        with self._cond:
            # Telegram forgets every update below the offset the bot confirmed.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            limit = int(params.get("limit") or 100)
            return list(self._updates[:limit])

    def _send(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT,
            "text": str(params.get("text", "")),
        }
        return message

    def _sent(self, message: dict[str, Any]) -> None:
        """Count a reply once its answer is on the wire: a test that stops the bot as soon as
        it sees the reply must not cut the bot's request short (aiogram prints that)."""
        with self._cond:
            self.sent.append({"chat_id": message["chat"]["id"], "text": message["text"]})
            self._cond.notify_all()


def _handler_for(api: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def _answer(self) -> None:
            path, _, query = self.path.partition("?")
            method = path.rstrip("/").rsplit("/", 1)[-1]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            params = _params(self.headers.get("Content-Type", ""), body)
            params.update({k: v[-1] for k, v in parse_qs(query).items()})
            result = api.call(method, params)
            data = json.dumps({"ok": True, "result": result}).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # a bot stopping drops its long poll
            if method == "sendMessage":
                api._sent(result)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    """A request's parameters, whichever way the client encoded them."""
    if not body:
        return {}
    if content_type.startswith("application/json"):
        value = json.loads(body)
        return value if isinstance(value, dict) else {}
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        found: dict[str, Any] = {}
        for part in message.iter_parts():  # type: ignore[attr-defined]
            name = part.get_param("name", header="content-disposition")
            if name:
                found[name] = part.get_payload(decode=True).decode("utf-8")
        return found
    return {k: v[-1] for k, v in parse_qs(body.decode("utf-8")).items()}
