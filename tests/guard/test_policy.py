"""The on_lost strategies on their own (end to end they are in test_exit_policy and
test_loss_delivery)."""

import threading

import pytest

from authforge_guard._guard._config import resolve_settings
from authforge_guard._guard._policy import ExitPolicy, LossPolicy, RaisePolicy, policy_for
from authforge_guard._protocol import SigningKey

KEY = SigningKey.generate().public_key_b64


def settings(**kwargs):
    return resolve_settings({"app_id": "a", "public_key": KEY, **kwargs}, {})


@pytest.mark.parametrize(
    ("on_lost", "kind"), [("raise", RaisePolicy), ("exit", ExitPolicy), ("warn", LossPolicy)]
)
def test_each_setting_names_its_strategy(on_lost, kind):
    policy = policy_for(settings(on_lost=on_lost))
    assert type(policy) is kind
    if isinstance(policy, ExitPolicy):
        policy.close()


@pytest.fixture
def exit_policies():
    """ExitPolicy objects made by a test; closed afterwards, or the loss a test simulates
    would end this very process with its exit code (the policy's promise)."""
    made = []

    def make(**kwargs):
        made.append(ExitPolicy(settings(on_lost="exit", **kwargs)))
        return made[-1]

    yield make
    for policy in made:
        policy.close()


def test_cooperative_exit_happens_in_the_main_thread_only_after_a_loss(exit_policies):
    policy = exit_policies(interrupt=False, exit_code=9)
    policy.check_call()  # no loss yet: nothing happens
    policy.before_hooks("revoked")
    seen = []
    worker = threading.Thread(target=lambda: seen.append(policy.check_call()))
    worker.start()
    worker.join()
    assert seen == [None]  # other threads carry on; the main thread exits
    with pytest.raises(SystemExit) as info:
        policy.check_call()
    assert info.value.code == 9


def test_only_raise_makes_blocks_raise(exit_policies):
    assert RaisePolicy.raises
    assert not exit_policies().raises
    assert not LossPolicy.raises
