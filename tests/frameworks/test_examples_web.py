"""The web examples run as their users run them: a real uvicorn server in a child process."""

import signal

import pytest

from .conftest import example_env, http_get, run_example


@pytest.fixture
def start_fastapi_example(start_example):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    return start_example


ONLINE_FAST = {"AUTHFORGE_HEARTBEAT": "online", "AUTHFORGE_HEARTBEAT_INTERVAL": "0.2"}


def serving_url(server):
    line = server.read_until(lambda line: line.startswith("serving on"))
    return line.split()[2], line


def test_uvicorn_revocation_mid_serving_answers_403_and_stays_up(af, start_fastapi_example):
    start_example = start_fastapi_example
    key = af.create_license({"tier": "free"})
    server = start_example("fastapi_app.py", "--port", 0, env=example_env(af, key, **ONLINE_FAST))
    url, line = serving_url(server)
    assert line.endswith("(tier free)")
    assert http_get(url + "/report")[:2] == (200, {"report": "ok", "tier": "free"})
    status, body, _ = http_get(url + "/export")
    assert (status, body["code"]) == (403, "feature_not_licensed")

    af.revoke(key)
    server.read_until(lambda line: line == "license lost (revoked): answering 403 from now on")
    for path in ("/report", "/export", "/report"):
        status, body, _ = http_get(url + path)
        assert (status, body) == (403, {"code": "revoked", "detail": "This license was revoked."})
    assert server.process.poll() is None  # still serving
    server.process.send_signal(signal.SIGTERM)  # uvicorn shuts down, then re-raises it
    code, err = server.finish()
    assert code in (0, -signal.SIGTERM), err
    assert "Traceback" not in err and key not in err


def test_uvicorn_refused_license_stops_the_start(af, start_fastapi_example):
    start_example = start_fastapi_example
    key = af.create_license()
    af.revoke(key)
    server = start_example("fastapi_app.py", "--port", 0, env=example_env(af, key))
    code, err = server.finish()
    assert code != 0 and "revoked" in err
    assert key not in err


def test_tenants_example(af, start_fastapi_example):
    start_example = start_fastapi_example
    server = start_example("fastapi_tenants.py", "--port", 0, env=example_env(af))
    url, _ = serving_url(server)
    status, body, _ = http_get(url + "/me")
    assert (status, body["code"]) == (401, "missing_license_key")
    pro = af.create_license({"tier": "pro"})
    status, body, _ = http_get(url + "/me", {"X-License-Key": pro, "X-User-Id": "42"})
    assert (status, body["tier"]) == (200, "pro")
    assert http_get(url + "/bulk", {"X-License-Key": pro, "X-User-Id": "42"})[0] == 200
    free = af.create_license({"tier": "free"})
    status, body, _ = http_get(url + "/bulk", {"X-License-Key": free, "X-User-Id": "7"})
    assert (status, body["code"]) == (403, "feature_not_licensed")
    revoked = af.create_license()
    af.revoke(revoked)
    status, body, _ = http_get(url + "/me", {"X-License-Key": revoked, "X-User-Id": "8"})
    assert (status, body["code"]) == (403, "revoked")


def test_flask_example(af):
    pytest.importorskip("flask")
    result = run_example("flask_app.py", "--check", env=example_env(af, af.create_license()))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "/report 200 {'report': 'ok', 'tier': None}",
        "/export 403 {'code': 'feature_not_licensed', 'detail': 'This needs a pro license.'}",
    ]
    revoked = af.create_license({"tier": "pro"})
    af.revoke(revoked)
    result = run_example("flask_app.py", "--check", env=example_env(af, revoked))
    assert (
        result.stdout.count("403 {'code': 'revoked', 'detail': 'This license was revoked.'}") == 2
    )


def test_django_example(af):
    pytest.importorskip("django")
    env = example_env(af, af.create_license({"tier": "pro"}))
    result = run_example("django_app/app.py", "check-license", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "/report 200 {'report': 'ok', 'tier': 'pro'}",
        "/export 200 {'export': 'ok'}",
    ]
    env = example_env(af, "NO-SUCH-KEY")
    result = run_example("django_app/app.py", "check-license", env=env)
    assert result.stdout.splitlines()[0] == (
        "/report 403 {'code': 'invalid_key', 'detail': 'This license key is not valid.'}"
    )


def test_uvicorn_with_on_lost_exit_stops_after_the_hooks(af, start_fastapi_example):
    key = af.create_license()
    env = example_env(af, key, AUTHFORGE_EXAMPLE_ON_LOST="exit", **ONLINE_FAST)
    server = start_fastapi_example("fastapi_app.py", "--port", 0, env=env)
    url, _ = serving_url(server)
    assert http_get(url + "/report")[0] == 200
    af.revoke(key)
    server.read_until(lambda line: line.startswith("license lost (revoked)"))
    code, err = server.finish()
    assert code == 1, err
    assert key not in err
    # A visible, clean stop: the reason on stderr, no simulated Ctrl-C traceback.
    assert "exiting with code 1" in err and "KeyboardInterrupt" not in err, err
