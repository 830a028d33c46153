"""Our first request loads urllib3 without running ``urllib3.http2`` (and the
``importlib.metadata`` it imports); urllib3's HTTP/2 API still works in full for a
program that uses it, and a urllib3 imported before us is used as it is."""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(code):
    # Prepended: a urllib3 put first on the path (tests/versions) stays first.
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    )
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_a_request_does_not_run_urllib3_http2(af):
    out = run(f"""
    import sys
    from authforge_guard._transport._http import Transport
    reply = Transport({af.url!r}).post("/auth/validate", {{"nonce": "0" * 32}})
    print(reply.data["status"], "importlib.metadata" in sys.modules)
    """)
    assert out == ["failed", "False"]


def test_urllib3_http2_is_whole_when_used():
    out = run("""
    import sys, threading
    from authforge_guard._transport import _urllib3
    _urllib3.load()
    import urllib3.http2
    from urllib3.http2 import probe
    names = []
    threads = [threading.Thread(target=lambda: names.append(urllib3.http2.inject_into_urllib3.__name__))
               for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert names == ["inject_into_urllib3"] * 8
    assert "__getattr__" not in vars(urllib3.http2)
    assert urllib3.http2.probe is probe is sys.modules["urllib3.http2.probe"]
    print("importlib.metadata" in sys.modules)
    """)
    assert out == ["True"]


def test_urllib3_imported_first_is_left_alone():
    out = run("""
    import urllib3, sys
    from authforge_guard._transport import _urllib3
    assert _urllib3.load() is urllib3
    print("__getattr__" in vars(sys.modules["urllib3.http2"]))
    """)
    assert out == ["False"]
