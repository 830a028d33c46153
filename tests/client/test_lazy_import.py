"""``import authforge_guard`` stays cheap: no cryptography, no urllib3, no pools."""

import subprocess
import sys


def modules_after(code):
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_import_loads_neither_cryptography_nor_urllib3():
    loaded = modules_after("import authforge_guard")
    assert not {m for m in loaded if m.split(".")[0] in {"cryptography", "urllib3", "wrapt"}}


def test_building_a_client_opens_no_pool():
    loaded = modules_after(
        "from authforge_guard import AuthForgeClient\n"
        "AuthForgeClient('a', 's', '0wRcYWn44wk9tHOisXgso1wbtUqpFdy0IeMk4HXDiNc=',"
        " api_base_url='http://127.0.0.1:9')"
    )
    assert "urllib3" not in loaded


def test_importtime_report_has_no_heavy_modules():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import authforge_guard"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "authforge_guard" in result.stderr
    assert "cryptography" not in result.stderr and "urllib3" not in result.stderr


def test_public_names_are_listed_once_and_resolve():
    import authforge_guard

    assert sorted(authforge_guard.__all__) == sorted([*authforge_guard._EXPORTS, "__version__"])
    for name in authforge_guard.__all__:
        assert getattr(authforge_guard, name) is not None


def test_a_login_and_licensed_calls_load_neither_dataclasses_nor_inspect(af):
    # Issue 15: ``dataclasses`` pulls in ``inspect``, ``ast`` and ``dis``, and
    # ``signal`` builds enum classes: milliseconds of every start-up that nothing a
    # login, a block (its interrupt handler included) and a licensed call need.
    key = af.create_license({"tier": "pro"})
    # (asyncio itself imports inspect: the coroutine function is decorated, not run.)
    code = f"""
from authforge_guard import Guard, feature, licensed, requires_license
guard = Guard(app_id={af.app_id!r}, app_secret={af.app_secret!r},
              public_key={af.public_key!r}, api_base_url={af.url!r}, license_key={key!r})

@requires_license(guard=guard)
def main():
    return 1

@requires_license(guard=guard)
async def amain():
    return 2

@requires_license(guard=guard)
def numbers():
    yield 3

@feature("pro", guard=guard)
def export():
    return 4

with licensed(guard=guard):
    assert main() + sum(numbers()) + export() == 8
guard.logout()
"""
    loaded = modules_after(code)
    assert not loaded & {"dataclasses", "inspect", "ast", "dis", "asyncio", "signal"}


def test_a_restart_that_resumes_a_cached_session_sends_nothing_and_loads_no_transport(af, tmp_path):
    # Issue 15: a grace-mode restart from the session cache is a signature check and
    # a file read; the transport (urllib3, socket) is built at the first request.
    key = af.create_license()
    code = f"""
from authforge_guard import Guard, requires_license
guard = Guard(app_id={af.app_id!r}, app_secret={af.app_secret!r},
              public_key={af.public_key!r}, api_base_url={af.url!r}, license_key={key!r},
              session_cache={str(tmp_path)!r})

@requires_license(guard=guard)
def main():
    return 42

assert main() == 42
"""
    first = modules_after(code)
    validates = af.stats()["licenses"][key]["validates"]
    second = modules_after(code)
    assert (
        af.stats()["licenses"][key]["validates"] == validates == 1
    )  # the second run resumed, it did not log in
    assert "authforge_guard._transport._http" in first
    assert not {m for m in second if m.split(".")[0] in {"urllib3", "socket"}}
    assert "authforge_guard._transport._http" not in second
