"""``LocalAuthForge``: a throwaway AuthForge server with one app, for tests and demos.

    with LocalAuthForge() as af:
        key = af.create_license({"tier": "pro"})
        client = af.client(hwid_override="test-machine")
        client.login(key)

It listens on a free loopback port and keeps its database in a temporary
directory that ``stop()`` removes (unless ``db_path`` is given, in which case
the file stays and a second ``LocalAuthForge`` on it reuses its first app).

``LocalAuthForge(tls=True)`` serves HTTPS with a throwaway self-signed
certificate, written to that temporary directory; ``af.ca_bundle`` is its
path, and ``af.client()`` / ``af.guard()`` trust it:

    with LocalAuthForge(tls=True) as af:
        client = af.client()             # api_base_url=af.url, ca_bundle=af.ca_bundle
        print(af.url)                    # https://127.0.0.1:<port>
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
)

from .server import AppCredentials, AuthForgeServer
from .server._admin import Moment
from .server._tls import LOOPBACK_NAMES, write_self_signed

if TYPE_CHECKING:
    # Written in parallel with this module; the ignores go quiet once they exist.
    from ._client._dropin import AuthForgeClient  # type: ignore[import-not-found, unused-ignore]
    from ._guard._facade import Guard  # type: ignore[import-not-found, unused-ignore]

__all__ = ["LocalAuthForge"]


def _public(name: str) -> Any:
    """A public name of the package, imported on first use (the client is not cheap)."""
    return getattr(importlib.import_module("authforge_guard"), name)


class LocalAuthForge:
    """An ``AuthForgeServer`` on loopback with one app (offline activation on) ready to use.

    ``heartbeat_rate_limit=None`` lifts the 6-per-minute heartbeat limit;
    ``credits`` is the app's credit balance (``None``: unlimited); ``tls=True``
    serves HTTPS with a new self-signed certificate for ``127.0.0.1``,
    ``localhost``, ``::1`` and ``host`` (``ca_bundle`` is its PEM file).
    """

    def __init__(
        self,
        *,
        db_path: str | os.PathLike[str] | None = None,
        heartbeat_rate_limit: int | None = 6,
        credits: int | None = None,
        host: str = "127.0.0.1",
        tls: bool = False,
    ) -> None:
        self._db_path = os.fspath(db_path) if db_path is not None else None
        self._rate_limit = heartbeat_rate_limit
        self._credits = credits
        self._host = host
        self._tls = tls
        self._ca_bundle: str | None = None
        self._tmpdir: str | None = None
        self._server: AuthForgeServer | None = None
        self._app: AppCredentials | None = None

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> LocalAuthForge:
        """Start serving (idempotent); returns ``self``."""
        if self._server is not None:
            return self
        if self._db_path is None or self._tls:
            self._tmpdir = tempfile.mkdtemp(prefix="authforge-local-")
        path = self._db_path or os.path.join(str(self._tmpdir), "authforge.sqlite3")
        try:
            tls = self._certificate(str(self._tmpdir)) if self._tls else None
            server = AuthForgeServer(
                path, host=self._host, port=0, heartbeat_rate_limit=self._rate_limit, tls=tls
            )
            self._app = self._first_app(server)
            self._server = server.start()
        except BaseException:
            self._remove_tmpdir()
            raise
        return self

    def _certificate(self, directory: str) -> tuple[str, str]:
        hosts = dict.fromkeys([*LOOPBACK_NAMES, self._host])
        cert_path, key_path = write_self_signed(directory, "local", list(hosts), days=7)
        self._ca_bundle = cert_path
        return cert_path, key_path

    def _first_app(self, server: AuthForgeServer) -> AppCredentials:
        admin = server.admin
        apps = admin.list_apps()
        if not apps:
            return admin.create_app("local", offline_activation=True, credits=self._credits)
        info = admin.app_info(apps[0]["app_id"], reveal_secret=True)
        if self._credits is not None:
            admin.set_credits(info["app_id"], self._credits)
        return AppCredentials(info["app_id"], info["app_secret"], info["public_key"])

    def stop(self) -> None:
        """Stop the server and remove the temporary database. Safe to call twice."""
        server, self._server = self._server, None
        try:
            if server is not None:
                server.stop()
        finally:
            self._remove_tmpdir()

    def _remove_tmpdir(self) -> None:
        tmpdir, self._tmpdir, self._ca_bundle = self._tmpdir, None, None
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def __enter__(self) -> LocalAuthForge:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self._server is None or self._app is None:
            return "LocalAuthForge(stopped)"
        return f"LocalAuthForge(url={self.url!r}, app_id={self._app.app_id!r})"

    # --- what a client needs -------------------------------------------------------

    @property
    def server(self) -> AuthForgeServer:
        if self._server is None:
            raise RuntimeError("LocalAuthForge is not started: use start() or a with block")
        return self._server

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, or ``https://`` with ``tls=True``."""
        return self.server.url

    @property
    def ca_bundle(self) -> str | None:
        """With ``tls=True``, the PEM file of the server's self-signed certificate: what a
        client trusts (``ca_bundle=``, or ``SSL_CERT_FILE`` for urllib); else ``None``."""
        return self._ca_bundle if self.server.tls else None

    @property
    def app_id(self) -> str:
        return self._credentials().app_id

    @property
    def app_secret(self) -> str:
        return self._credentials().app_secret

    @property
    def public_key(self) -> str:
        """The app's active public key (it changes with ``rotate_key``)."""
        return self.public_keys[0]

    @property
    def public_keys(self) -> list[str]:
        """Every public key of the app, the active one first."""
        return self.server.admin.public_keys(self.app_id)

    def _credentials(self) -> AppCredentials:
        if self._app is None or self._server is None:
            raise RuntimeError("LocalAuthForge is not started: use start() or a with block")
        return self._app

    def client(self, **overrides: Any) -> AuthForgeClient:
        """An ``authforge_guard.AuthForgeClient`` for this server's app (trusting its
        certificate with ``tls=True``)."""
        client: AuthForgeClient = _public("AuthForgeClient")(**self._connection_kwargs(overrides))
        return client

    def guard(self, **overrides: Any) -> Guard:
        """An ``authforge_guard.Guard`` for this server's app (trusting its certificate
        with ``tls=True``). It is a test's guard: ``trust_environment=True``, so the
        ``AUTHFORGE_*`` variables may fill in what the keywords leave out."""
        kwargs = {"trust_environment": True, **self._connection_kwargs(overrides)}
        guard: Guard = _public("Guard")(**kwargs)
        return guard

    def environ(self, license_key: str | None = None) -> dict[str, str]:
        """The ``AUTHFORGE_*`` variables for this server's app (and ``license_key``), for a
        subprocess or ``monkeypatch``. A program reads the trust settings among them
        (app id, public key, API URL) only with ``trust_environment=True``."""
        env = {
            "AUTHFORGE_APP_ID": self.app_id,
            "AUTHFORGE_APP_SECRET": self.app_secret,
            "AUTHFORGE_PUBLIC_KEY": self.public_key,
            "AUTHFORGE_API_URL": self.url,
        }
        if self.ca_bundle is not None:
            env["AUTHFORGE_CA_BUNDLE"] = self.ca_bundle
        if license_key is not None:
            env["AUTHFORGE_LICENSE_KEY"] = license_key
        return env

    def _connection_kwargs(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "app_id": self.app_id,
            "app_secret": self.app_secret,
            "public_key": self.public_key,
            "api_base_url": self.url,
        }
        if self.ca_bundle is not None:
            kwargs["ca_bundle"] = self.ca_bundle
        kwargs.update(overrides)
        return kwargs

    # --- licenses ------------------------------------------------------------------

    def create_license(
        self,
        variables: Mapping[str, Any] | None = None,
        *,
        slots: int | None = 1,
        expires_at: Moment = None,
        label: str | None = None,
    ) -> str:
        """A new license key. ``slots`` 0/``None``: any number of machines; ``expires_at``:
        epoch seconds, a datetime or an ISO-8601 string (``None``: perpetual)."""
        return self.server.admin.create_license(
            self.app_id, variables, slots=slots, expires_at=expires_at, label=label
        )

    def revoke(self, key: str) -> None:
        self.server.admin.revoke(key)

    def set_variables(self, key: str, variables: Mapping[str, Any] | None) -> None:
        """Replace the license's variables; a live session sees them at its next heartbeat."""
        self.server.admin.set_license_variables(key, variables)

    def reset_hwids(self, key: str) -> int:
        return self.server.admin.reset_hwids(key)

    def license_info(self, key: str) -> dict[str, Any]:
        return self.server.admin.license_info(key)

    def mint_offline_file(
        self,
        key: str,
        *,
        hwids: Sequence[str] | None = None,
        expires_at: Moment = None,
        label: str | None = None,
    ) -> str:
        """Armored ``.authforge`` text; ``hwids=None`` works on any machine."""
        return self.server.admin.mint_offline_file(
            key, hwids=hwids, expires_at=expires_at, label=label
        )

    def stats(self) -> dict[str, Any]:
        """``{"licenses": {key: {"validates", "heartbeats", "credits"}}, "credits_spent"}``."""
        return self.server.admin.stats(self.app_id)

    # --- the app ---------------------------------------------------------------------

    def rotate_key(self) -> str:
        """Sign with a new key from now on; returns it. Old keys stay in ``public_keys``."""
        return self.server.admin.rotate_key(self.app_id)

    def disable_app(self) -> None:
        self.server.admin.set_app_disabled(self.app_id, True)

    def enable_app(self) -> None:
        self.server.admin.set_app_disabled(self.app_id, False)

    def set_offline_activation(self, enabled: bool) -> None:
        self.server.admin.set_offline_activation(self.app_id, enabled)

    def set_credits(self, credits: int | None) -> None:
        """The app's credit balance (``None``: unlimited)."""
        self.server.admin.set_credits(self.app_id, credits)

    def set_app_variables(self, variables: Mapping[str, Any] | None) -> None:
        self.server.admin.set_app_variables(self.app_id, variables)

    def create_app(
        self,
        name: str = "second",
        *,
        offline_activation: bool = True,
        credits: int | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> AppCredentials:
        """Another app on the same server (its licenses go through ``server.admin``)."""
        return self.server.admin.create_app(
            name, offline_activation=offline_activation, credits=credits, variables=variables
        )
