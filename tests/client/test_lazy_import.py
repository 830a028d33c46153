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
