"""Issue 12, item 10: decorated functions, methods and class methods pickle by name, so
they go to process pools (fork, spawn, forkserver), where the decorator is live again."""

import multiprocessing
import pickle
import subprocess
import sys
import textwrap

import pytest

JOBS = textwrap.dedent('''
    """A module of licensed jobs, as a user writes it."""
    import os
    from authforge_guard import configure, feature, requires_license

    configure(trust_environment=True, hwid_override="pool-worker")

    @requires_license
    def square(n):
        return n * n

    @feature("pro")
    def pro_report(n):
        return f"report {n}"

    class Jobs:
        @requires_license
        def double(self, n):
            return 2 * n

        @requires_license
        @classmethod
        def triple(cls, n):
            return 3 * n

    def worker_pid_and_login(n):
        from authforge_guard import get_guard
        return os.getpid(), get_guard().session is not None
''')

POOL = textwrap.dedent("""
    import json, multiprocessing, sys
    from concurrent.futures import ProcessPoolExecutor
    import jobs

    method = sys.argv[1]
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        squares = list(pool.map(jobs.square, range(6)))
        reports = list(pool.map(jobs.pro_report, range(2)))
        doubled = list(pool.map(jobs.Jobs().double, range(3)))
        tripled = list(pool.map(jobs.Jobs.triple, range(3)))
        logins = list(pool.map(jobs.worker_pid_and_login, range(4)))
    print(json.dumps({"squares": squares, "reports": reports, "doubled": doubled,
                      "tripled": tripled, "worker_logged_in": all(l for _, l in logins)}))
""")


@pytest.fixture
def jobs_dir(tmp_path, monkeypatch):
    (tmp_path / "jobs.py").write_text(JOBS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("jobs", None)


def test_decorated_objects_pickle_as_references(af, jobs_dir, monkeypatch):
    for name, value in af.environ(af.create_license()).items():
        monkeypatch.setenv(name, value)
    import jobs

    for obj in (jobs.square, jobs.pro_report, jobs.Jobs.triple, jobs.Jobs().double):
        assert pickle.loads(pickle.dumps(obj)) == obj or pickle.loads(pickle.dumps(obj))(2)
    assert pickle.loads(pickle.dumps(jobs.square)) is jobs.square
    assert pickle.loads(pickle.dumps(jobs.Jobs().double))(4) == 8
    assert pickle.loads(pickle.dumps(jobs.Jobs.triple))(4) == 12


def test_a_local_function_says_why_it_cannot_pickle(af, make_guard):
    guard = make_guard(license_key=af.create_license())

    @guard.requires_license
    def local():
        return 1

    with pytest.raises(pickle.PicklingError, match="module-level"):
        pickle.dumps(local)


@pytest.mark.parametrize(
    "method",
    [m for m in ("fork", "spawn", "forkserver") if m in multiprocessing.get_all_start_methods()],
)
def test_process_pools_run_decorated_jobs(af, jobs_dir, method):
    import os

    key = af.create_license({"tier": "pro"})
    env = {
        **os.environ,
        **af.environ(key),
        "PYTHONPATH": os.pathsep.join([str(jobs_dir), *sys.path]),
    }
    result = subprocess.run(
        [sys.executable, "-c", POOL, method],
        capture_output=True,
        text=True,
        env=env,
        cwd=jobs_dir,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    assert json.loads(result.stdout) == {
        "squares": [0, 1, 4, 9, 16, 25],
        "reports": ["report 0", "report 1"],
        "doubled": [0, 2, 4],
        "tripled": [0, 3, 6],
        "worker_logged_in": True,
    }
