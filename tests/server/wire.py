"""Plain HTTP to the local server, as any AuthForge client would speak it (no SDK in between)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authforge_guard._protocol import (
    HEARTBEAT_PATH,
    OFFLINE_ACTIVATE_PATH,
    SELFBAN_PATH,
    VALIDATE_PATH,
    decode_payload,
    heartbeat_body,
    new_nonce,
    offline_activate_body,
    validate_body,
)


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None

    @property
    def payload(self) -> dict[str, Any]:
        return decode_payload(self.body["payload"])

    @property
    def token(self) -> str:
        return self.payload["sessionToken"]


class Wire:
    """One kept-alive connection to a server, plus builders for each endpoint's body."""

    def __init__(self, url: str, app_id: str, app_secret: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self.app_id = app_id
        self.app_secret = app_secret

    @classmethod
    def to(cls, af, app=None) -> Wire:
        if app is None:
            return cls(af.url, af.app_id, af.app_secret)
        return cls(af.url, app.app_id, app.app_secret)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(
        self,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        method: str = "POST",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = raw if raw is not None else json.dumps(body).encode("utf-8")
        sent = {"Content-Type": "application/json"}
        sent.update(headers or {})
        self.conn.request(method, path, body=data if method != "GET" or raw else None, headers=sent)
        response = self.conn.getresponse()
        text = response.read()
        try:
            decoded = json.loads(text.decode("utf-8")) if text else None
        except ValueError:
            decoded = text
        return Answer(response.status, decoded, {k.lower(): v for k, v in response.getheaders()})

    def validate(
        self, key: str, hwid: str = "machine-1", *, nonce: str | None = None, **overrides: Any
    ) -> Answer:
        body = validate_body(
            app_id=self.app_id,
            app_secret=self.app_secret,
            license_key=key,
            hwid=hwid,
            nonce=nonce or new_nonce(),
        )
        body.update(overrides)
        return self.send(VALIDATE_PATH, body)

    def heartbeat(self, token: str, hwid: str = "machine-1", **overrides: Any) -> Answer:
        body = heartbeat_body(app_id=self.app_id, session_token=token, hwid=hwid, nonce=new_nonce())
        body.update(overrides)
        return self.send(HEARTBEAT_PATH, body)

    def selfban(self, **body: Any) -> Answer:
        return self.send(SELFBAN_PATH, dict({"appId": self.app_id}, **body))

    def activate(self, key: str, hwid: str = "machine-1", **overrides: Any) -> Answer:
        body = offline_activate_body(
            app_id=self.app_id,
            app_secret=self.app_secret,
            license_key=key,
            hwid=hwid,
            nonce=new_nonce(),
        )
        body.update(overrides)
        return self.send(OFFLINE_ACTIVATE_PATH, body)
