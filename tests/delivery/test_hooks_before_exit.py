"""Issue 12, item 5: ending the session and marking its blocks lost are one step, so a
worker that leaves its block when ``session.active`` turns False still gets
``LicenseLost``, and only after the cleanup finished, even with a slow log handler."""

import logging
import threading

from authforge_guard import LicenseLost, licensed


class SlowHandler(logging.Handler):
    """An application log handler that takes 50 ms per record (a remote log sink)."""

    def emit(self, record):
        threading.Event().wait(0.05)


def test_a_worker_polling_active_with_a_slow_log_handler(af, make_guard):
    key = af.create_license()
    guard = make_guard(license_key=key)
    cleanup_done = threading.Event()

    def cleanup():
        threading.Event().wait(0.2)  # saving the work takes a while
        cleanup_done.set()

    guard.add_cleanup(cleanup)
    handler = SlowHandler()
    logging.getLogger("authforge_guard").addHandler(handler)
    inside = threading.Event()
    outcome = []

    def worker():
        try:
            with licensed(guard=guard) as session:
                inside.set()
                while session.active:
                    threading.Event().wait(0.001)
            outcome.append("left without a loss")
        except LicenseLost as exc:
            outcome.append((exc.code, cleanup_done.is_set()))

    try:
        thread = threading.Thread(target=worker)
        thread.start()
        inside.wait(5)
        af.revoke(key)
        thread.join(15)
    finally:
        logging.getLogger("authforge_guard").removeHandler(handler)
    assert outcome == [("revoked", True)]
