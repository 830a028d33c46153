"""The retry policy of the AuthForge protocol, as a small immutable value.

``rate_limited`` (or a bare 429) is retried after 2 s, then 5 s; a network
failure once after 2 s. Tests pass a policy with shorter delays instead of
patching sleeps.
"""

from __future__ import annotations

import time


class RetryPolicy:
    """When to try a request again. Every retry carries a fresh nonce.

    Immutable, compared and hashed by value. (A plain class with ``__slots__``
    rather than a frozen dataclass: ``dataclasses`` imports ``inspect``, ``ast``
    and ``dis``, which a licensed program's start-up would otherwise pay for.)
    """

    __slots__ = ("max_retry_after", "network_delays", "rate_limit_delays")

    rate_limit_delays: tuple[float, ...]
    network_delays: tuple[float, ...]
    # A server's Retry-After is honoured, but never beyond this many seconds.
    max_retry_after: float

    def __init__(
        self,
        rate_limit_delays: tuple[float, ...] = (2.0, 5.0),
        network_delays: tuple[float, ...] = (2.0,),
        max_retry_after: float = 60.0,
    ) -> None:
        set_field = object.__setattr__
        set_field(self, "rate_limit_delays", rate_limit_delays)
        set_field(self, "network_delays", network_delays)
        set_field(self, "max_retry_after", max_retry_after)

    def _values(self) -> tuple[tuple[float, ...], tuple[float, ...], float]:
        return (self.rate_limit_delays, self.network_delays, self.max_retry_after)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: RetryPolicy is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: RetryPolicy is immutable")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> tuple[type, tuple[tuple[float, ...], tuple[float, ...], float]]:
        return (RetryPolicy, self._values())

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(rate_limit_delays={self.rate_limit_delays!r}, "
            f"network_delays={self.network_delays!r}, max_retry_after={self.max_retry_after!r})"
        )

    def rate_limit_delay(self, attempt: int, retry_after: str | None) -> float | None:
        """Seconds to wait before rate-limit retry number ``attempt`` (0-based), or ``None``."""
        if attempt >= len(self.rate_limit_delays):
            return None
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        return self.rate_limit_delays[attempt]

    def network_delay(self, attempt: int) -> float | None:
        """Seconds to wait before network retry number ``attempt`` (0-based), or ``None``."""
        if attempt >= len(self.network_delays):
            return None
        return self.network_delays[attempt]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if usable."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        import email.utils  # only for the rare HTTP-date form: it costs ~8 ms to import

        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:
            return None
        seconds = moment.timestamp() - (now if now is not None else time.time())
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


# For a request whose failure has a cheaper way out than waiting (a cached session's
# heartbeat: a refusal just means a normal login).
NO_RETRY = RetryPolicy(rate_limit_delays=(), network_delays=())
