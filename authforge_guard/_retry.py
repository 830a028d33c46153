"""The retry policy of the AuthForge protocol, as a small immutable value.

``rate_limited`` (or a bare 429) is retried after 2 s, then 5 s; a network
failure once after 2 s. Tests pass a policy with shorter delays instead of
patching sleeps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a request again. Every retry carries a fresh nonce."""

    rate_limit_delays: Tuple[float, ...] = (2.0, 5.0)
    network_delays: Tuple[float, ...] = (2.0,)
    # A server's Retry-After is honoured, but never beyond this many seconds.
    max_retry_after: float = 60.0

    def rate_limit_delay(self, attempt: int, retry_after: Optional[str]) -> Optional[float]:
        """Seconds to wait before rate-limit retry number ``attempt`` (0-based), or ``None``."""
        if attempt >= len(self.rate_limit_delays):
            return None
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        return self.rate_limit_delays[attempt]

    def network_delay(self, attempt: int) -> Optional[float]:
        """Seconds to wait before network retry number ``attempt`` (0-based), or ``None``."""
        if attempt >= len(self.network_delays):
            return None
        return self.network_delays[attempt]


def parse_retry_after(value: Optional[str], *, now: Optional[float] = None) -> Optional[float]:
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
