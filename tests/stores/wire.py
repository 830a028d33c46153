"""Logging in and checking in over the wire, as the Guard's client does, for store tests."""

from __future__ import annotations

import json

import urllib3

from authforge_guard._protocol import (
    HEARTBEAT_PATH,
    VALIDATE_PATH,
    TrustList,
    heartbeat_body,
    judge_signed_response,
    new_nonce,
    validate_body,
)


class Wire:
    """``validate(key, hwid)`` and ``heartbeat(signed, hwid)`` against one server."""

    def __init__(self, url, app_id, app_secret, public_key):
        self.url, self.app_id, self.app_secret = url, app_id, app_secret
        self.trust = TrustList(public_key)
        self.pool = urllib3.PoolManager()

    def _post(self, path, body, nonce):
        response = self.pool.request(
            "POST",
            self.url + path,
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        return judge_signed_response(
            json.loads(response.data), expected_nonce=nonce, trust=self.trust, asked=None
        )

    def validate(self, key, hwid):
        nonce = new_nonce()
        body = validate_body(
            app_id=self.app_id, app_secret=self.app_secret, license_key=key, hwid=hwid, nonce=nonce
        )
        return self._post(VALIDATE_PATH, body, nonce)

    def heartbeat(self, signed, hwid):
        nonce = new_nonce()
        body = heartbeat_body(
            app_id=self.app_id, session_token=signed.session_token, hwid=hwid, nonce=nonce
        )
        return self._post(HEARTBEAT_PATH, body, nonce)

    def close(self):
        self.pool.clear()
