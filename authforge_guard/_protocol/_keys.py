"""Ed25519 keys: the client's trust list and the server's signing keys.

``cryptography`` is imported on first use, not when the package is imported,
so ``import authforge_guard`` stays cheap for command-line tools.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

from ._encoding import b64decode, b64encode

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

PublicKeyArg = Union[str, Sequence[str]]


class _NotLoadedYet(Exception):
    """Stands for ``cryptography``'s ``InvalidSignature`` until the first key is loaded
    (no signature is checked before that), so ``verify`` imports nothing per call."""


_InvalidSignature: type[Exception] = _NotLoadedYet


def split_public_keys(value: Any) -> list[str]:
    """The base64 keys named by a key argument: one key, a list, or ``"k1,k2"``.

    Raises ``ValueError`` when no key is named or an entry is not a string.
    """
    if isinstance(value, str):
        entries: Sequence[Any] = value.split(",")
    elif isinstance(value, (list, tuple)):
        entries = value
    else:
        raise ValueError("public_key must be a base64 string, a list of them, or 'k1,k2'")
    keys: list[str] = []
    for entry in entries:
        if not isinstance(entry, str):
            raise ValueError("every public key must be a base64 string")
        if entry.strip():
            keys.append(entry.strip())
    if not keys:
        raise ValueError("public_key must name at least one base64 Ed25519 key")
    return keys


def decode_public_key(key_b64: str) -> bytes:
    """The 32 raw bytes of a base64 Ed25519 public key; ``ValueError`` otherwise."""
    try:
        raw = b64decode(key_b64, strict=True)
    except ValueError:
        raise ValueError("invalid_public_key: not base64") from None
    if len(raw) != 32:
        raise ValueError(f"invalid_public_key_length: {len(raw)} bytes, expected 32")
    return raw


def key_id_for(public_key_b64: str) -> str:
    """A short stable id for a public key (the ``keyId``/``kid`` the server sends)."""
    return "k_" + hashlib.sha256(decode_public_key(public_key_b64)).hexdigest()[:16]


class TrustList:
    """The public keys a client accepts signatures from (several during a key rotation).

    Immutable once built; every key is checked at construction so a typo in a
    deployed key fails at start-up, not at the first heartbeat.
    """

    __slots__ = ("_keys", "_raw", "keys_b64")

    def __init__(self, public_key: PublicKeyArg) -> None:
        self.keys_b64: tuple[str, ...] = tuple(split_public_keys(public_key))
        self._raw: tuple[bytes, ...] = tuple(decode_public_key(k) for k in self.keys_b64)
        self._keys: tuple[Ed25519PublicKey, ...] = ()

    @classmethod
    def lenient(cls, public_key: Any) -> TrustList:
        """A trust list of the usable keys in ``public_key``, possibly none (verifies nothing).

        For verifiers that must answer with a verdict, never an exception.
        """
        trust = cls.__new__(cls)
        keys, raws = [], []
        candidates = public_key.split(",") if isinstance(public_key, str) else public_key
        for entry in candidates if isinstance(candidates, (list, tuple)) else ():
            try:
                raw = decode_public_key(entry.strip()) if isinstance(entry, str) else None
            except ValueError:
                raw = None
            if raw is not None:
                keys.append(entry.strip())
                raws.append(raw)
        trust.keys_b64, trust._raw, trust._keys = tuple(keys), tuple(raws), ()
        return trust

    def _loaded(self) -> tuple[Ed25519PublicKey, ...]:
        global _InvalidSignature
        if not self._keys:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

            _InvalidSignature = InvalidSignature
            self._keys = tuple(Ed25519PublicKey.from_public_bytes(raw) for raw in self._raw)
        return self._keys

    def verify(self, message: str, signature_b64: Any) -> bool:
        """True if ``signature_b64`` is a valid signature of ``message`` by any trusted key.

        ``message`` is the base64 payload string itself: AuthForge signs those
        bytes, not the decoded JSON. Never raises for bad input.
        """
        if not isinstance(message, str) or not isinstance(signature_b64, str):
            return False
        try:
            signature = b64decode(signature_b64.strip(), strict=True)
        except ValueError:
            return False
        if len(signature) != 64:
            return False
        try:
            data = message.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 bytes of it were ever signed
            return False
        for key in self._loaded() if self._raw else ():
            try:
                key.verify(signature, data)
            except _InvalidSignature:
                continue
            return True
        return False

    def __repr__(self) -> str:
        return f"TrustList({len(self.keys_b64)} key(s))"


class SigningKey:
    """A server-side Ed25519 private key with its public half and key id."""

    __slots__ = ("_private", "key_id", "public_key_b64")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self._private = private
        public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key_b64 = b64encode(public_raw)
        self.key_id = key_id_for(self.public_key_b64)

    @classmethod
    def generate(cls) -> SigningKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> SigningKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def private_bytes(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        return self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def sign(self, message: str) -> str:
        """Base64 signature over the UTF-8 bytes of ``message`` (a base64 payload string)."""
        return b64encode(self._private.sign(message.encode("utf-8")))

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"
