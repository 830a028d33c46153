"""Our decorators load wrapt's FunctionWrapper, not the whole wrapt package; wrapt still
works in full, with the same type, for a program that uses it too."""

import os
import subprocess
import sys
import textwrap


def run(code, **env):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


DECORATE = """
    import sys
    from authforge_guard import feature, requires_license

    @requires_license
    def job():
        return 1

    @feature("pro")
    def pro_job():
        return 2
"""


def test_decorating_loads_only_the_wrapper_type_and_no_asyncio():
    out = run(
        DECORATE
        + """
    print(sorted(m for m in sys.modules if m.startswith("wrapt")))
    print("asyncio" in sys.modules)
    """
    )
    assert out.split("\n")[:2] == ["['wrapt', 'wrapt._wrappers', 'wrapt.exceptions']", "False"]


def test_wrapt_imported_afterwards_is_whole_and_shares_the_type():
    run(
        DECORATE
        + """
    import threading
    import wrapt
    import wrapt.exceptions

    # The first threads to ask run wrapt's __init__ exactly once between them.
    names = []
    threads = [threading.Thread(target=lambda: names.append(wrapt.decorator.__name__))
               for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert names == ["decorator"] * 8
    assert wrapt.__version__ and wrapt.exceptions.WrapperNotInitializedError
    assert isinstance(job, wrapt.FunctionWrapper) and isinstance(pro_job, wrapt.FunctionWrapper)
    from wrapt import ObjectProxy
    assert ObjectProxy(job).__wrapped__ is job

    @wrapt.decorator
    def twice(wrapped, instance, args, kwargs):
        return 2 * wrapped(*args, **kwargs)

    assert isinstance(twice(job), wrapt.FunctionWrapper)
    assert "wrapt.decorators" in sys.modules and "__getattr__" not in vars(wrapt)
    """
    )


def test_wrapt_imported_first_is_used_as_it_is():
    run(
        """
    import wrapt
    """
        + DECORATE
        + """
    assert type(job).__mro__[1] is wrapt.FunctionWrapper and type(pro_job).__mro__[1] is wrapt.FunctionWrapper
    """
    )


def test_dir_of_the_deferred_package_is_the_whole_package():
    run(
        DECORATE
        + """
    import wrapt
    assert "decorator" in dir(wrapt) and "__dir__" not in vars(wrapt)
    """
    )


def test_no_c_extension_means_a_plain_import_of_wrapt():
    run(
        """
    import sys

    class NoExtension:  # as on a platform where wrapt has no compiled core
        def find_spec(self, name, path=None, target=None):
            if name == "wrapt._wrappers":
                raise ImportError("no C extension here")
            return None

    sys.meta_path.insert(0, NoExtension())
    """
        + DECORATE.replace("    import sys\n", "")
        + """
    import wrapt
    import wrapt.exceptions
    assert type(job).__mro__[1] is wrapt.FunctionWrapper and "__getattr__" not in vars(wrapt)
    assert wrapt.FunctionWrapper.__module__ == "wrapt.wrappers"  # the Python one
    assert wrapt.exceptions.WrapperNotInitializedError
    """
    )


def test_pure_python_wrapt_when_extensions_are_disabled():
    run(
        DECORATE
        + """
    import wrapt
    assert type(job).__mro__[1] is wrapt.FunctionWrapper
    assert wrapt.FunctionWrapper.__module__ == "wrapt.wrappers"  # not the C type
    """,
        WRAPT_DISABLE_EXTENSIONS="1",
    )


def test_the_installed_wrapt_is_in_the_range_the_deferral_is_tested_for():
    """``_wrapt.py`` relies on wrapt's layout (see its docstring); ``setup.cfg`` pins the
    releases it was checked against. An environment outside that range is not the one
    these tests speak for."""
    import configparser
    import importlib.metadata
    import re

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    config = configparser.ConfigParser()
    config.read(os.path.join(root, "setup.cfg"))
    requirement = next(
        line.strip()
        for line in config["options"]["install_requires"].splitlines()
        if line.strip().startswith("wrapt")
    )
    low, high = re.fullmatch(r"wrapt>=([\d.]+),<([\d.]+)", requirement).groups()

    def parts(version):
        return tuple(int(p) for p in re.match(r"[\d.]+", version).group().rstrip(".").split("."))

    installed = parts(importlib.metadata.version("wrapt"))
    assert parts(low) <= installed < parts(high)
