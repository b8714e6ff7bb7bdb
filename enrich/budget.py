"""The run-level spending cap of the enrichment step (``enrich.max_cost_usd``).

A call is issued only if its worst-case cost still fits: the caller reserves the provider's estimate
before the call and settles the reservation with the actual cost after it. Thread-safe.
"""

from __future__ import annotations

import threading


class Budget:
    """Run-level spending cap. A call is issued only if its worst-case cost still fits (reservation)."""

    def __init__(self, cap_usd: float | None) -> None:
        self.cap = cap_usd
        self.spent = 0.0
        self.reserved = 0.0
        self.stopped = False
        self._lock = threading.Lock()

    def try_reserve(self, amount: float) -> bool:
        with self._lock:
            if self.cap is None:
                return True
            if self.stopped or self.spent + self.reserved + amount > self.cap:
                self.stopped = True
                return False
            self.reserved += amount
            return True

    def settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            if self.cap is not None:
                self.reserved = max(0.0, self.reserved - reserved)
            self.spent += actual
