"""Many clients at once: nothing is lost, nothing is counted twice, no 5xx."""

import threading
from collections import Counter

from authforge_guard.testing import LocalAuthForge

from .wire import Wire

THREADS = 8
CALLS = 200


def run_in_threads(count, work):
    errors = []

    def guarded(index):
        try:
            work(index)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


def test_parallel_validates_spend_exactly_the_credits_there_are():
    with LocalAuthForge(credits=1500) as af:
        keys = [af.create_license(slots=0), af.create_license(slots=0)]
        outcomes = Counter()
        lock = threading.Lock()

        def validate_many(index):
            wire = Wire.to(af)  # one kept-alive connection per thread
            key = keys[index % 2]
            seen = Counter()
            try:
                for call in range(CALLS):
                    answer = wire.validate(key, hwid=f"machine-{index}")
                    seen[(key, answer.status, answer.error)] += 1
            finally:
                wire.close()
            with lock:
                outcomes.update(seen)

        run_in_threads(THREADS, validate_many)

        assert sum(outcomes.values()) == THREADS * CALLS
        assert {status for _, status, _ in outcomes} <= {200, 429}
        assert {error for _, status, error in outcomes if status == 429} == {"no_credits"}
        stats = af.stats()
        ok_per_key = {key: outcomes[(key, 200, None)] for key in keys}
        assert sum(ok_per_key.values()) == 1500
        for key in keys:
            assert stats["licenses"][key]["validates"] == ok_per_key[key]
            assert stats["licenses"][key]["credits"] == ok_per_key[key]
        assert stats["credits_spent"] == 1500
        assert af.server.admin.credits(af.app_id)["credits"] == 0
        assert sorted(af.license_info(keys[0])["hwids"]) == [f"machine-{i}" for i in (0, 2, 4, 6)]


def test_parallel_heartbeats_are_all_counted_and_billed():
    with LocalAuthForge(heartbeat_rate_limit=None) as af:
        key = af.create_license()
        first = Wire.to(af)
        token = first.validate(key).token
        first.close()

        def beat_many(index):
            wire = Wire.to(af)
            try:
                for _ in range(50):
                    answer = wire.heartbeat(token)
                    assert answer.status == 200, answer.body
            finally:
                wire.close()

        run_in_threads(4, beat_many)
        assert af.stats() == {
            "licenses": {key: {"validates": 1, "heartbeats": 200, "credits": 21}},
            "credits_spent": 21,
        }
