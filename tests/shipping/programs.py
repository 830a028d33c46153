"""Small licensed programs the shipping tests start as a customer's machine would.

Each reads the local server's settings from the environment (``af.environ``), takes the
shape of its streams from ``argv`` and reports through files, since it may have no console:

- ``streams``: ``none`` (``sys.stderr = None``), ``both-none`` (``sys.stdout`` and
  ``sys.stderr`` ``None``, as under ``pythonw``), ``closed`` (``sys.stderr`` closed),
  ``inherited`` (whatever the process was started with, closed descriptors included);
- ``out``: a folder where the program writes ``ready`` (inside its licensed block),
  ``finally`` (its ``finally`` ran), ``notified`` (what the console notifier was given)
  and ``end`` (it ran to its own end).
"""

from __future__ import annotations

import subprocess
import textwrap

HANG_GUARD = 45  # seconds: well under the programs' own 60 s sleep


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    """``(stdout, stderr)`` of ``process`` once it ends; fails if it is still running
    after ``HANG_GUARD`` seconds (the loss did not end it)."""
    try:
        out, err = process.communicate(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError("the program was still running: the loss did not end it") from None
    return out or "", err or ""


PRELUDE = textwrap.dedent("""
    import os, pathlib, sys, time
    streams, out = sys.argv[1], pathlib.Path(sys.argv[2])
    if streams == "none":
        sys.stderr = None
    elif streams == "both-none":
        sys.stdout = sys.stderr = None
    elif streams == "closed":
        sys.stderr.close()

    from authforge_guard._base import _console

    def notified(message):
        with open(out / "notified", "a") as f:
            f.write(message + "\\n")

    _console.set_notifier(notified)
""")

# A worker revoked while its main thread sleeps in a licensed block.
LOST_IN_A_BLOCK = PRELUDE + textwrap.dedent("""
    import authforge_guard as ag
    ag.configure(trust_environment=True, on_lost=sys.argv[3], exit_code=7,
                 heartbeat="online", heartbeat_interval=0.2, exit_grace=float(sys.argv[4]))
    try:
        with ag.licensed():
            (out / "ready").write_text("in the block")
            time.sleep(60)
    finally:
        (out / "finally").write_text("ran")
    (out / "end").write_text("reached its own end")
""")

# A customer-facing command: on_refused="exit" turns a refusal into words and a code.
COMMAND = PRELUDE + textwrap.dedent("""
    import authforge_guard as ag
    ag.configure(trust_environment=True, on_refused="exit", support_hint="help@vendor.example")

    @ag.requires_license
    def main():
        (out / "end").write_text("licensed")

    main()
""")

# The README's quick start: trust settings pinned in code (argv stands in for the
# constants the vendor writes), the key and secret from the environment.
PINNED_BLOCK = textwrap.dedent("""
    import json, pathlib, signal, sys, time
    pinned, out, on_lost, grace, shape = json.loads(sys.argv[1]), pathlib.Path(sys.argv[2]), \\
        sys.argv[3], float(sys.argv[4]), sys.argv[5]
    import logging
    logging.basicConfig(level=logging.WARNING)  # the library's warnings, on stderr
    import authforge_guard as ag
    ag.configure(**pinned, on_lost=on_lost, exit_code=9, exit_grace=grace,
                 heartbeat="online", heartbeat_interval=0.2)
    try:
        with ag.licensed():
            if shape == "blocks-inside":  # blocked again after the block opened
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGURG})
            (out / "ready").write_text("in the block")
            time.sleep(60)
    finally:
        (out / "finally").write_text("ran")
    (out / "end").write_text("reached its own end")
""")

# Before anything imports the package: the POSIX pieces Windows lacks are taken away
# (no SIGURG, no pthread_kill, no signal masks, no fcntl).
WITHOUT_POSIX = textwrap.dedent("""
    import signal, _signal, sys
    for module in (signal, _signal):
        for name in ("SIGURG", "pthread_kill", "pthread_sigmask"):
            if hasattr(module, name):
                delattr(module, name)
    sys.modules["fcntl"] = None  # import fcntl -> ImportError, as on Windows
""")

# A worker whose main thread runs Python code in a licensed block (a loop of short
# sleeps: without pthread_kill a signal lands at the next bytecode, as on Windows).
BUSY_BLOCK = textwrap.dedent("""
    import json, pathlib, sys, time
    pinned, out, on_lost = json.loads(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
    import authforge_guard as ag
    from authforge_guard._delivery import _interrupts
    (out / "signal").write_text(str(ag.get_guard().settings.interrupt_signal)
                                if ag.configure(**pinned, on_lost=on_lost, exit_code=6,
                                                heartbeat="online", heartbeat_interval=0.2)
                                else "")
    try:
        with ag.licensed():
            (out / "ready").write_text("in the block")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.05)
    except ag.LicenseLost as exc:
        (out / "lost").write_text(exc.code)
        raise
    finally:
        (out / "finally").write_text("ran")
    (out / "end").write_text("reached its own end")
""")

# A loss that arrives while the main thread runs the library's own code (the end of
# ``licensed().__enter__``, after its last check): the handler holds it there and has it
# sent again until it lands in the block, which then runs Python code for up to 30 s.
HELD_IN_LIBRARY_CODE = textwrap.dedent("""
    import json, pathlib, sys, threading, time
    pinned, out = json.loads(sys.argv[1]), pathlib.Path(sys.argv[2])
    import authforge_guard as ag
    from authforge_guard._exceptions import AuthForgeError
    guard = ag.configure(**pinned, exit_grace=60)  # the escalation is not what ends it
    guard.ensure()
    (out / "signal").write_text(str(guard.settings.interrupt_signal))
    entry = guard._entries[None]
    enter = ag.licensed.__enter__.__code__
    pushed = []

    def trace(frame, event, arg):
        if frame.f_code is not enter:
            return None
        if event == "return" and not pushed:  # still inside __enter__ (protected)
            pushed.append(True)
            guard._losses.lose(entry, AuthForgeError("revoked"))
            deadline = time.monotonic() + 30  # the signal is sent before this thread starts
            while not any(t.name == "authforge-escalate" for t in threading.enumerate()):
                assert time.monotonic() < deadline, "the loss never asked for an interrupt"
                time.sleep(0.01)
        return trace

    sys.settrace(trace)
    try:
        with ag.licensed():
            sys.settrace(None)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                time.sleep(0.05)
            (out / "ran-on").write_text("the block ran its 30 s: the loss was dropped")
    except ag.LicenseLost as exc:
        (out / "lost").write_text(exc.code)
    finally:
        sys.settrace(None)
    (out / "pushed").write_text(str(bool(pushed)))
""")

# A customer command against a server that accepts and never answers.
CHECK_HANGING = textwrap.dedent("""
    import json, sys
    pinned = json.loads(sys.argv[1])
    import authforge_guard as ag
    ag.configure(**pinned, on_refused="exit", request_timeout=float(sys.argv[2]))

    @ag.requires_license
    def main():
        print("licensed")

    if sys.argv[3] == "thread":  # checked from a worker thread: no signal can end it
        import threading
        codes = []

        def run():
            try:
                main()
            except SystemExit as exc:
                codes.append(exc.code)

        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
        sys.exit(codes[0] if codes else 0)
    main()
""")
