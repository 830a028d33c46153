"""``_records.Record``: the frozen ``__slots__`` classes that replaced dataclasses on the
login path (issue 15) keep what the dataclasses gave, and a decorator still tells
coroutines and generators apart without ``inspect``."""

import asyncio
import copy
import functools
import inspect
import pickle
import re
import sys

import pytest

from authforge_guard._api._decorators import (
    _is_async_generator_function,
    _is_generator_function,
    is_coroutine_function,
)
from authforge_guard._delivery._hooks import LicenseEvent
from authforge_guard._guard._config import SETTINGS, Setting
from authforge_guard._protocol._signed_session import SignedSession
from authforge_guard._records import Record


class Pair(Record):
    __slots__ = ("name", "secret")
    _hidden = frozenset({"secret"})

    def __init__(self, name, secret="s3cret-value"):
        self._assign(name=name, secret=secret)


def signed(token="tok-SECRET-123"):
    return SignedSession(
        payload_b64="cGF5bG9hZA==",
        signature="sig-SECRET",
        key_id="k1",
        payload={"sessionToken": token},
        session_token=token,
        expires_at=5,
    )


def test_a_record_cannot_be_changed_after_construction():
    pair = Pair("a")
    with pytest.raises(AttributeError, match="read-only"):
        pair.name = "b"
    with pytest.raises(AttributeError, match="read-only"):
        del pair.secret
    with pytest.raises(AttributeError):
        pair.other = 1  # __slots__: no new attributes either
    assert pair.name == "a"


def test_equality_and_hash_are_by_value_and_type():
    assert Pair("a") == Pair("a") and hash(Pair("a")) == hash(Pair("a"))
    assert Pair("a") != Pair("b")
    assert Pair("a", "x") != Pair("a", "y")
    assert len({Pair("a"), Pair("a"), Pair("b")}) == 2

    class Other(Pair):
        __slots__ = ()

    assert Pair("a") != Other("a")


def test_repr_leaves_the_hidden_fields_out():
    assert repr(Pair("a")) == "Pair(name='a')"
    text = repr(signed())
    assert text == "SignedSession(expires_at=5, key_id='k1')"
    assert "SECRET" not in repr(LicenseEvent("lost", "revoked", True, RuntimeError("SECRET")))


def test_records_pickle_and_copy_without_running_their_checks():
    original = signed()
    for clone in (
        pickle.loads(pickle.dumps(original)),
        copy.copy(original),
        copy.deepcopy(original),
    ):
        assert clone == original and clone is not original
        assert clone.session_token == "tok-SECRET-123"
    row = SETTINGS[0]
    assert pickle.loads(pickle.dumps(row)).name == row.name


def test_fields_list_every_slot_base_first():
    class Triple(Pair):
        __slots__ = ("extra",)

        def __init__(self):
            self._assign(extra="e", name="n", secret="s")

    assert Triple.fields() == ("name", "secret", "extra")
    assert (Triple().name, Triple().extra) == ("n", "e")
    with pytest.raises(TypeError, match=r"missing \['secret'\]"):
        Pair.__new__(Pair)._assign(name="only one")
    with pytest.raises(TypeError, match=r"unknown \['typo'\]"):
        Pair.__new__(Pair)._assign(name="n", secret="s", typo=1)


def test_an_enforcement_setting_without_its_strictness_test_is_refused():
    with pytest.raises(TypeError, match="at_least_as_strict"):
        Setting("x", "enforcement", lambda v, p: v, None, "doc")


# ---------------------------------------------------------------- kinds of callables


def plain():
    return 1


async def coroutine():
    return 1


def generator():
    yield 1


async def async_generator():
    yield 1


class Methods:
    def plain(self):
        return 1

    async def coroutine(self):
        return 1

    @classmethod
    async def class_coroutine(cls):
        return 1

    @staticmethod
    def static_generator():
        yield 1

    def __call__(self):
        return 1


CALLABLES = [
    plain,
    coroutine,
    generator,
    async_generator,
    lambda: 1,
    functools.partial(coroutine),
    functools.partial(functools.partial(generator)),
    Methods().plain,
    Methods().coroutine,
    Methods.class_coroutine,
    Methods.__dict__["class_coroutine"],
    Methods.__dict__["static_generator"],
    Methods(),
    Methods,
    len,
    print,
    asyncio.sleep,
]
if sys.version_info >= (3, 12):
    marked = inspect.markcoroutinefunction(lambda: coroutine())
    CALLABLES.append(marked)


def _unwrapped(fn):
    return fn.__func__ if isinstance(fn, (classmethod, staticmethod)) else fn


def _stable_id(fn):
    """A test id without a memory address: pytest-xdist workers must collect the same ids."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(fn))


@pytest.mark.parametrize("fn", CALLABLES, ids=_stable_id)
def test_kinds_are_what_inspect_says(fn):
    target = _unwrapped(fn)
    assert is_coroutine_function(fn) is inspect.iscoroutinefunction(target)
    assert _is_generator_function(fn) is inspect.isgeneratorfunction(target)
    assert _is_async_generator_function(fn) is inspect.isasyncgenfunction(target)


def test_the_kinds_seen_are_the_expected_ones():
    # Not only "agrees with inspect": the answers themselves, for the common shapes.
    assert [is_coroutine_function(f) for f in (coroutine, plain, Methods().coroutine)] == [
        True,
        False,
        True,
    ]
    assert _is_generator_function(Methods.__dict__["static_generator"])
    assert _is_async_generator_function(async_generator)
    assert not _is_generator_function(len)


def test_the_code_flags_are_inspects():
    from authforge_guard._api import _decorators

    assert _decorators._CO_GENERATOR == inspect.CO_GENERATOR
    assert _decorators._CO_COROUTINE == inspect.CO_COROUTINE
    assert _decorators._CO_ASYNC_GENERATOR == inspect.CO_ASYNC_GENERATOR
