"""HTTPS for the local server: its TLS context, and throwaway self-signed certificates.

The handshake itself happens in ``_http`` (in each connection's own thread);
this module only says what the server presents.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Sequence
from typing import Any, NoReturn, Union

from .._base._files import PathArg

TLSSetting = Union[ssl.SSLContext, tuple[PathArg, PathArg]]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def server_context(tls: TLSSetting) -> ssl.SSLContext:
    """A server-side context: ``tls`` itself, or one built from ``(certfile, keyfile)``.

    Raises ``ValueError`` for a client-side context or an encrypted key, and
    ``OSError`` (``ssl.SSLError`` included) for a file that cannot be read or
    a certificate and key that do not match.
    """
    if isinstance(tls, ssl.SSLContext):
        # A client context: PROTOCOL_TLS_CLIENT, or (Python 3.9's create_default_context)
        # the generic protocol with hostname checking, which no server side does.
        if tls.protocol == ssl.PROTOCOL_TLS_CLIENT or tls.check_hostname:
            raise ValueError(
                "tls must be a server-side context "
                "(ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))"
            )
        return tls
    if not isinstance(tls, tuple) or len(tls) != 2:
        raise ValueError("tls must be an ssl.SSLContext or a (certfile, keyfile) pair")
    certfile, keyfile = (os.fspath(path) for path in tls)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # Without a password callback OpenSSL would prompt on the terminal and wait.
    context.load_cert_chain(certfile, keyfile, password=_no_password)
    return context


def _no_password() -> NoReturn:
    raise ValueError(
        "the TLS key is encrypted: give an unencrypted one, or an ssl.SSLContext that loads it"
    )


def write_self_signed(
    directory: PathArg,
    name: str = "server",
    hosts: Sequence[str] = LOOPBACK_NAMES,
    *,
    days: float = 30,
) -> tuple[str, str]:
    """Write ``<name>.crt`` and ``<name>.key`` (PEM) in ``directory``; returns their paths.

    The certificate is its own CA (so it is what a client trusts, as
    ``ca_bundle``), valid for ``hosts`` (IP addresses or DNS names) from five
    minutes ago for ``days``. The key is an unencrypted P-256 key, readable
    by the owner only: for local testing, never for a real deployment.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"authforge-local-{name}")])
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(os.fspath(directory), f"{name}.crt")
    key_path = os.path.join(os.fspath(directory), f"{name}.key")
    with open(cert_path, "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)
    return cert_path, key_path


def ensure_self_signed(
    directory: PathArg,
    name: str,
    hosts: Sequence[str] = LOOPBACK_NAMES,
    *,
    days: float = 90,
    renew_within: float = 86400,
) -> tuple[str, str, bool]:
    """``(cert_path, key_path, created)``: the certificate ``write_self_signed`` would make,
    reused when it is already there.

    Why reuse: a client told to trust the file (``NODE_EXTRA_CA_CERTS``,
    ``SSL_CERT_FILE``) keeps trusting it across restarts of the server. A
    certificate is made anew when either file is missing or unreadable, the
    pair does not match, it does not name every one of ``hosts``, or it ends
    within ``renew_within`` seconds.
    """
    cert_path = os.path.join(os.fspath(directory), f"{name}.crt")
    key_path = os.path.join(os.fspath(directory), f"{name}.key")
    if _still_good(cert_path, key_path, hosts, renew_within):
        return cert_path, key_path, False
    os.makedirs(os.fspath(directory), exist_ok=True)
    write_self_signed(directory, name, hosts, days=days)
    return cert_path, key_path, True


def _still_good(cert_path: str, key_path: str, hosts: Sequence[str], renew_within: float) -> bool:
    from cryptography import x509

    try:
        with open(cert_path, "rb") as pem:
            cert = x509.load_pem_x509_certificate(pem.read())
        server_context((cert_path, key_path))  # the key is there and matches
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    named = {str(address) for address in names.get_values_for_type(x509.IPAddress)}
    named.update(names.get_values_for_type(x509.DNSName))
    wanted = {_canonical(host) for host in hosts}
    now = datetime.datetime.now(datetime.timezone.utc)
    starts, ends = _validity(cert)
    left = (ends - now).total_seconds()
    return wanted <= named and starts <= now and left > renew_within


def _validity(cert: Any) -> tuple[datetime.datetime, datetime.datetime]:
    """Aware UTC bounds (``*_utc`` since cryptography 42, naive UTC before)."""
    if hasattr(cert, "not_valid_before_utc"):
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    utc = datetime.timezone.utc
    return cert.not_valid_before.replace(tzinfo=utc), cert.not_valid_after.replace(tzinfo=utc)


def _canonical(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return host
