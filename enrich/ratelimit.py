"""A thread-safe client-side token bucket: at most ``requests_per_minute`` calls, small bursts allowed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``acquire()`` blocks until a token is available. ``rate_per_minute <= 0`` disables the limit.

    The bucket starts full with ``capacity`` tokens (default: one second's worth, at least 1) and refills
    continuously. ``clock``/``sleep`` are injectable so the arithmetic can be tested without waiting.
    """

    def __init__(
        self,
        rate_per_minute: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate_per_s = max(0.0, float(rate_per_minute)) / 60.0
        self.capacity = float(capacity) if capacity else max(1.0, self.rate_per_s)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate_per_s)
        self._updated = now

    def try_acquire(self) -> float:
        """Take a token and return 0, or return the seconds to wait before one is available."""
        if self.rate_per_s <= 0:
            return 0.0
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate_per_s

    def acquire(self) -> float:
        """Block until a token is taken; returns the seconds waited."""
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                with self._lock:
                    self.waited_s += waited
                return waited
            self._sleep(wait)
            waited += wait
