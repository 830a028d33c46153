"""Issue 12, item 9: ``shield()`` lets a critical section (a ``finally`` that saves the
user's document) complete while the loss lands; the loss is raised when it exits."""

import asyncio
import threading

import pytest

from authforge_guard import LicenseLost, licensed, shield

LINES = 20


def save_slowly(path, pause):
    with open(path, "w") as handle:
        for n in range(LINES):
            handle.write(f"line {n}\n")
            handle.flush()
            pause()


def test_a_finally_inside_shield_completes_and_the_loss_follows(af, make_guard, tmp_path):
    key = af.create_license()
    guard = make_guard(license_key=key)
    document = tmp_path / "document.txt"
    saving = threading.Event()
    revoked = threading.Event()

    def pause():
        saving.set()
        revoked.wait(5)  # the loss lands in the middle of the save...
        threading.Event().wait(0.01)  # ...and the main thread keeps sleeping through it

    def revoke_while_saving():
        saving.wait(5)
        af.revoke(key)
        while guard.session is not None:
            threading.Event().wait(0.01)
        revoked.set()

    threading.Thread(target=revoke_while_saving).start()
    with pytest.raises(LicenseLost) as lost:
        with licensed(guard=guard):
            try:
                pass  # the work
            finally:
                with shield():
                    save_slowly(document, pause)
    assert lost.value.code == "revoked"
    assert document.read_text().splitlines() == [f"line {n}" for n in range(LINES)]


def test_without_shield_the_loss_interrupts_the_main_thread_at_once(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    reached = []
    with pytest.raises(LicenseLost):
        with licensed(guard=guard):
            af.revoke(key)
            threading.Event().wait(30)  # interrupted
            reached.append("after the wait")
    assert reached == []


def test_async_shield_defers_the_cancellation_to_its_end(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)

    async def main():
        steps = []
        try:
            async with licensed(guard=guard) as session:
                async with shield():
                    af.revoke(key)
                    while session.active:
                        await asyncio.sleep(0.01)
                    await asyncio.sleep(0.2)  # not cancelled: shielded
                    steps.append("critical section done")
                steps.append("after the shield")  # never: the shield's exit raises
        except LicenseLost as exc:
            steps.append(exc.code)
        return steps

    assert asyncio.run(asyncio.wait_for(main(), 20)) == ["critical section done", "revoked"]


def test_a_guarded_call_inside_a_shield_still_raises_a_loss_that_happened(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    work = guard.requires_license(lambda: "ok")
    with pytest.raises(LicenseLost):
        with licensed(guard=guard) as session, shield():
            af.revoke(key)
            while session.active:
                threading.Event().wait(0.01)
            work()  # a shield defers interruptions; it does not license
