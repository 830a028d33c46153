"""Issue 22: TLS on a customer's machine.

Trust comes from the operating system's store through ``truststore`` (the ``tls`` extra)
when it is installed, else from OpenSSL's paths; ``ca_bundle`` replaces both. Here the
machine's store is what OpenSSL and truststore read on Linux (``SSL_CERT_FILE``): the local
server's CA is only there, never given to the program. On macOS and Windows the store is
the Keychain / the certificate store (the ``macos``/``windows`` tests).

A certificate failure is ``tls_error``: transient (no server gave a verdict, and a clock
or a network can fix it) but never retried within a request; the customer is not told to
check their internet connection; the log says OpenSSL's reason; the cause is kept.
"""

from __future__ import annotations

import logging
import sys
import traceback

import pytest

from authforge_guard import LicenseError, is_transient_error
from authforge_guard._api._refusal import exit_code_for, user_message
from authforge_guard.server._tls import write_self_signed
from authforge_guard.testing import LocalAuthForge


@pytest.fixture
def tls_af():
    with LocalAuthForge(tls=True, heartbeat_rate_limit=None) as server:
        yield server


def no_bundle_guard(af, key, **overrides):
    """A guard that is NOT given the server's CA: it must find it in the machine's store."""
    overrides.setdefault("ca_bundle", None)
    return af.guard(license_key=key, hwid_override="tls-machine", **overrides)


def test_the_ca_in_the_machines_store_is_found(tls_af, monkeypatch):
    monkeypatch.delenv("AUTHFORGE_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", tls_af.ca_bundle)
    key = tls_af.create_license({"tier": "pro"})
    guard = no_bundle_guard(tls_af, key)
    try:
        assert guard.ensure().tier == "pro"
        context = guard._engine.transport._pool.connection_pool_kw.get("ssl_context")
        if sys.version_info >= (3, 10):  # the tls extra is in the test extra there
            import truststore

            assert isinstance(context, truststore.SSLContext)
    finally:
        guard.logout()


def test_a_ca_bundle_replaces_the_store(tls_af, monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", tls_af.ca_bundle)  # the store would trust it...
    other, _ = write_self_signed(tmp_path, "other")
    guard = no_bundle_guard(tls_af, tls_af.create_license(), ca_bundle=other)  # ...not this
    with pytest.raises(LicenseError) as info:
        guard.ensure()
    assert info.value.code == "tls_error"


def test_a_certificate_failure_is_its_own_code_with_its_reason(tls_af, monkeypatch, caplog):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("AUTHFORGE_CA_BUNDLE", raising=False)
    key = tls_af.create_license()
    guard = no_bundle_guard(tls_af, key)
    with caplog.at_level(logging.WARNING, logger="authforge_guard"):
        with pytest.raises(LicenseError) as info:
            guard.ensure()
    error = info.value
    assert error.code == "tls_error"
    assert is_transient_error(error)  # no verdict: the session's rules for "unreachable"
    assert exit_code_for(error) == 3
    words = user_message(error, "help@vendor.example")
    assert "certificate could not be verified" in words
    assert "internet connection" not in words
    assert "help@vendor.example" in words
    logged = [r.getMessage() for r in caplog.records if "TLS to" in r.getMessage()]
    assert len(logged) == 1  # not retried: a certificate does not change in 2 s
    assert "CERTIFICATE_VERIFY_FAILED" in logged[0]
    assert "self-signed" in logged[0] or "self signed" in logged[0]
    # The cause is kept, down to OpenSSL's (what a traceback shows).
    shown = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert "ssl.SSLCertVerificationError" in shown


def _a_public_site_verifies_through_the_os_store():
    # A contributor's machine: a public HTTPS site verifies with no bundle and no
    # SSL_CERT_FILE, through truststore (a python.org macOS build has no usable paths).
    import socket

    from authforge_guard._transport._http import _os_trust_store_context

    context = _os_trust_store_context()
    assert context is not None
    with socket.create_connection(("pypi.org", 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="pypi.org"):
            pass


@pytest.mark.macos
@pytest.mark.skipif(sys.platform != "darwin", reason="the Keychain")
def test_on_macos_the_keychain_is_the_store():
    _a_public_site_verifies_through_the_os_store()


@pytest.mark.windows
@pytest.mark.skipif(sys.platform != "win32", reason="the Windows certificate store")
def test_on_windows_the_certificate_store_is_the_store():
    _a_public_site_verifies_through_the_os_store()
