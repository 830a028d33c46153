"""Issue 12, items 3 and 6: the signal handler takes no lock (nested blocks entered and left
in a tight loop while the loss lands never hang), and a program's own handler for the
signal is chained, called, and never overwritten on the way out."""

import dis
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from authforge_guard import LicenseLost, licensed
from authforge_guard._delivery import _interrupts
from authforge_guard._delivery._blocks import current_block
from authforge_guard._exceptions import AuthForgeError
from tests.support.waiting import wait_for

# Python 3.9 runs signal handlers between a with body and its __exit__ (bpo-29988).
only_where_exits_can_be_skipped = pytest.mark.skipif(
    not _interrupts.EXITS_CAN_BE_SKIPPED,
    reason="3.10+ checks for signals only at calls and backward jumps (bpo-29988)",
)

STRESS = textwrap.dedent("""
    import faulthandler, random, sys, threading, time
    from authforge_guard import LicenseLost, licensed
    from authforge_guard._exceptions import AuthForgeError
    from authforge_guard.testing import LocalAuthForge

    TRIALS = int(sys.argv[1])
    faulthandler.dump_traceback_later(60, exit=True)  # the watchdog: a hang fails loudly
    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        guard = af.guard(license_key=af.create_license(), heartbeat_interval=900,
                         hwid_override="stress")
        outcomes = {}
        for trial in range(TRIALS):
            guard.ensure()
            entry = guard._entries[None]

            def lose():
                time.sleep(random.uniform(0, 0.004))
                guard._losses.lose(entry, AuthForgeError("revoked"))

            try:
                with licensed(guard=guard):
                    threading.Thread(target=lose).start()  # lands while the blocks churn
                    while True:
                        with licensed(guard=guard):
                            with licensed(guard=guard):
                                pass
            except LicenseLost as exc:
                outcomes[exc.code] = outcomes.get(exc.code, 0) + 1
            faulthandler.dump_traceback_later(60, exit=True)
        print(outcomes)
""")


def test_nested_blocks_in_a_tight_loop_while_the_loss_lands_never_hang(tmp_path):
    trials = 300
    result = subprocess.run(
        [sys.executable, "-c", STRESS, str(trials)], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == str({"revoked": trials})


OWN_HANDLER = textwrap.dedent("""
    import signal, sys, threading, time
    from authforge_guard import LicenseLost, licensed
    from authforge_guard.testing import LocalAuthForge

    when = sys.argv[1]
    calls = []

    def mine(signum, frame):
        calls.append(signum)

    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        key = af.create_license()
        guard = af.guard(license_key=key, heartbeat="online", heartbeat_interval=0.05,
                         hwid_override="own-handler")
        guard.ensure()
        if when == "before":
            signal.signal(signal.SIGURG, mine)
        outcome, interrupted = "no loss", True
        try:
            with licensed(guard=guard) as session:
                if when == "during":
                    signal.signal(signal.SIGURG, mine)  # the program takes the signal over
                signal.pthread_kill(threading.main_thread().ident, signal.SIGURG)  # its own use
                af.revoke(key)
                while session.active:
                    time.sleep(0.05)
                time.sleep(1.0)  # our signal, if it comes, lands here
                interrupted = False
        except LicenseLost as exc:
            outcome = exc.code
        installed = signal.getsignal(signal.SIGURG)
        print(outcome, interrupted, installed is mine, len(calls) >= 1)
""")


def run_own_handler(when):
    result = subprocess.run(
        [sys.executable, "-c", OWN_HANDLER, when],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()


def test_a_handler_installed_before_the_block_is_chained_and_restored():
    assert run_own_handler("before") == ["revoked", "True", "True", "True"]


def test_a_handler_installed_during_the_block_is_kept_and_the_block_still_ends_lost():
    # The program's handler took the signal over: the sleep is not interrupted, but the
    # block ends with LicenseLost (at its exit), and the program's handler stays installed.
    assert run_own_handler("during") == ["revoked", "False", "True", "True"]


@only_where_exits_can_be_skipped
def test_a_loss_landing_between_a_with_body_and_its_exit_still_leaves_the_block(af, make_guard):
    # The stress test above, once on 3.9 under load: the escalation ended the program (exit
    # 1, "did not stop") while it was already in its next ensure(). Python 3.9 runs signal
    # handlers right after the POP_BLOCK that ends a ``with`` body, before its ``__exit__``
    # is called: our LicenseLost raised there skipped the inner block's ``__exit__``, and
    # that block stayed active for good. Here the handler runs at exactly that instruction
    # (an opcode trace calls it there, as the interpreter's signal check would).
    guard = make_guard(license_key=af.create_license(), interrupt=False)  # no real signal
    guard.ensure()
    entry = guard._entries[None]
    inner: list = []

    def body() -> None:
        with licensed(guard=guard):
            with licensed(guard=guard):
                inner.append(current_block())
                guard._losses.lose(entry, AuthForgeError("revoked"))

    gap = next(i.offset for i in dis.get_instructions(body) if i.opname == "POP_BLOCK") + 2

    @_interrupts.protect  # the signal the handler sends itself again is not for this frame
    def trace(frame, event, arg):
        if frame.f_code is not body.__code__:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode" and frame.f_lasti == gap:
            request = _interrupts.Request(LicenseLost("revoked"), inner[0])
            _interrupts._requests.append(request)
            _interrupts._handler(signal.SIGURG, frame)
        return trace

    sys.settrace(trace)
    try:
        with pytest.raises(LicenseLost):
            body()
    finally:
        sys.settrace(None)
        _interrupts._requests.clear()
    assert not inner[0].active, "the inner block's __exit__ never ran"
    assert current_block() is None


def test_a_loss_pushed_while_the_library_runs_its_own_code_still_lands_in_the_block(af, make_guard):
    # A push that lands in the library's own code (here the end of ``licensed().__enter__``,
    # after its last check) was dropped: that code checks for a loss itself, but this one
    # came after the check, and the program then slept inside a lost block until the
    # escalation, exit_grace later (here 60 s), sent the signal again.
    guard = make_guard(license_key=af.create_license(), exit_grace=60)
    guard.ensure()
    entry = guard._entries[None]
    enter = licensed.__enter__.__code__
    pushed: list = []

    def trace(frame, event, arg):
        if frame.f_code is not enter:
            return None
        if event == "return" and not pushed:  # still inside __enter__ (protected)
            pushed.append(True)
            guard._losses.lose(entry, AuthForgeError("revoked"))
            # The escalation's thread starts right after the signal was sent: the handler
            # runs at this frame's next instruction, inside the library's code.
            assert wait_for(
                lambda: any(t.name == "authforge-escalate" for t in threading.enumerate())
            )
        return trace

    slept_through: list = []
    sys.settrace(trace)
    try:
        with pytest.raises(LicenseLost):
            with licensed(guard=guard):
                sys.settrace(None)
                threading.Event().wait(30)  # a hang guard: the loss ends the wait
                slept_through.append(True)
    finally:
        sys.settrace(None)
    assert pushed
    assert not slept_through, "the loss was dropped: the block slept on"


def _inner_exit_skipped_then_outer_exits(guard, skip_inner_exit):
    """Open a block and one inside it, skip the inner one's exit (``skip_inner_exit``
    raises out of the outer body without it), leave the outer one; returns the inner
    block as it was while open."""
    seen: list = []
    with pytest.raises(KeyboardInterrupt):
        with licensed(guard=guard):
            skip_inner_exit(seen)
    return seen[0]


def _assert_cleaned_up(guard, inner, signum) -> None:
    assert not inner.active, "the skipped inner block is still active"
    assert current_block() is None
    assert guard._entries[None].blocks == [], "the skipped block still counts on its session"
    assert not _interrupts.ours(signum), "the skipped block still holds the interrupt signal"


@only_where_exits_can_be_skipped
def test_a_block_whose_exit_was_skipped_is_ended_by_the_block_around_it(af, make_guard):
    # A with statement's __exit__ can be skipped (a real Ctrl-C in Python 3.9's gap below).
    # The inner block stayed current, counted on its session and holding the interrupt
    # signal's handler for good; the outer block's exit, with the exception on its way
    # out, now ends it (tests/delivery/test_generators.py: not without an exception).
    guard = make_guard(license_key=af.create_license())
    guard.ensure()
    signum = guard.settings.interrupt_signal

    def skip_inner_exit(seen):
        inner = licensed(guard=guard)
        inner.__enter__()  # as a with statement whose __exit__ never ran
        seen.append(current_block())
        assert _interrupts.ours(signum)
        raise KeyboardInterrupt

    inner = _inner_exit_skipped_then_outer_exits(guard, skip_inner_exit)
    _assert_cleaned_up(guard, inner, signum)
    with licensed(guard=guard) as session:  # the guard still works
        assert session.active


@only_where_exits_can_be_skipped
def test_a_real_ctrl_c_between_a_with_body_and_its_exit_leaves_no_block_behind(af, make_guard):
    # Python 3.9 runs a signal handler right after the POP_BLOCK that ends a with body:
    # a KeyboardInterrupt raised there skips that __exit__ (Python's own behaviour for any
    # with statement). Here the trace raises it at exactly that instruction.
    guard = make_guard(license_key=af.create_license())
    guard.ensure()
    signum = guard.settings.interrupt_signal

    def body(seen):
        with licensed(guard=guard):
            seen.append(current_block())

    gap = next(i.offset for i in dis.get_instructions(body) if i.opname == "POP_BLOCK") + 2

    def trace(frame, event, arg):
        if frame.f_code is not body.__code__:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode" and frame.f_lasti == gap:
            raise KeyboardInterrupt
        return trace

    def skip_inner_exit(seen):
        sys.settrace(trace)
        try:
            body(seen)
        finally:
            sys.settrace(None)

    inner = _inner_exit_skipped_then_outer_exits(guard, skip_inner_exit)
    _assert_cleaned_up(guard, inner, signum)
