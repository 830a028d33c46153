"""Frozen records with ``__slots__``: what the login path used ``dataclasses`` for.

``dataclasses`` imports ``inspect``, which imports ``ast`` and ``dis``, and
every ``@dataclass`` compiles its methods with ``exec`` when its module is
imported: about 8 ms of a fresh process's start-up, for six small classes
(issue 15). A ``Record`` subclass lists its fields in ``__slots__``, declares
their types as bare annotations, and writes a typed ``__init__`` that hands
every value, by name, to ``_assign``. It gets what the frozen
dataclasses gave: no assignment after construction, equality and hashing by
value, a ``repr`` that leaves out the fields named in ``_hidden`` (secrets:
license keys, session tokens, proxy passwords), and pickling and copying.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

_R = TypeVar("_R", bound="Record")


class Record:
    __slots__ = ()

    _fields: ClassVar[tuple[str, ...]] = ()  # every slot, base classes' first
    _hidden: ClassVar[frozenset[str]] = frozenset()  # left out of repr

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            slots = klass.__dict__.get("__slots__", ())
            names.extend((slots,) if isinstance(slots, str) else slots)
        cls._fields = tuple(names)

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The field names, in order (``dataclasses.fields`` for a record)."""
        return cls._fields

    def _assign(self, **values: Any) -> None:
        """Set every field, each by its name: the one way a record is written."""
        if len(values) != len(self._fields) or not all(name in values for name in self._fields):
            missing = [name for name in self._fields if name not in values]
            unknown = sorted(set(values) - set(self._fields))
            raise TypeError(f"{type(self).__name__}: missing {missing}, unknown {unknown}")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only (cannot delete {name!r})")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self._fields if name not in self._hidden
        )
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self._values())


def _rebuild(cls: type[_R], values: tuple[Any, ...]) -> _R:
    """Unpickle or copy a record without calling its ``__init__`` (which may check)."""
    record = cls.__new__(cls)
    record._assign(**dict(zip(cls._fields, values)))
    return record
