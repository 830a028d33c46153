"""on_lost="exit": hooks save the work, then the program stops with exit_code, in a real
process, running its finally blocks."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import sys, time
    from authforge_guard import Guard, licensed, requires_license

    WORK = sys.argv[1]
    guard = Guard(heartbeat="online", heartbeat_interval=0.2, on_lost="exit", exit_code=7,
                  interrupt={interrupt}, trust_environment=True)
    document = "".join(f"line {i}\\n" for i in range(50000))

    def save(path, text):
        with open(path, "w") as handle:
            handle.write(text)

    guard.add_cleanup(save, WORK, document)

    @requires_license(guard=guard)
    def step():
        pass

    @requires_license(guard=guard)
    def main():
        try:
            print("ready", flush=True)
            {body}
        finally:
            print("finally ran", flush=True)

    main()
    print("should not get here", flush=True)
""")


@pytest.mark.parametrize(
    ("body", "interrupt"),
    [
        ("time.sleep(60)", True),
        ("with licensed(guard=guard):\n                time.sleep(60)", True),
        # cooperative: no signal; the next guarded call in the main thread exits
        ("while True:\n                step()\n                time.sleep(0.05)", False),
    ],
)
def test_exit_policy_saves_work_and_exits_with_code(af, tmp_path, body, interrupt):
    key = af.create_license()
    script = tmp_path / "app.py"
    script.write_text(SCRIPT.replace("{body}", body).replace("{interrupt}", str(interrupt)))
    work = tmp_path / "work.txt"
    env = dict(os.environ, **af.environ(key), AUTHFORGE_HWID_OVERRIDE="exit-test")
    child = subprocess.Popen(
        [sys.executable, str(script), str(work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        af.revoke(key)
        out, err = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 7, err
    assert out.split("\n")[:1] == ["finally ran"]
    assert "should not get here" not in out
    assert work.read_text() == "".join(f"line {i}\n" for i in range(50000))
