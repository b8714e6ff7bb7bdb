"""One row of a raw ``quarantine`` table (``core.raw_spec``'s JUSTWATCH_QUARANTINE, REVIEWS_QUARANTINE): a
payload an extractor fetched but could not turn into records, with the reason."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Self

from pydantic import BaseModel, Field


def record_key(*parts: str) -> str:
    """sha256 of ``parts``, one per line: the same bad payload quarantined twice stays one row; each extractor
    says what makes a payload the same."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class QuarantineRecord(BaseModel):
    """One row of a raw quarantine table."""

    record_key: str
    source: str
    entity_id: str | None = None
    reason: str
    payload: str
    as_of_date: date
    quarantined_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def keyed(
        cls,
        key_parts: Sequence[str],
        *,
        source: str,
        entity_id: str | None,
        reason: str,
        payload: str,
        as_of: date,
        **more: Any,
    ) -> Self:
        """The record keyed by :func:`record_key` of ``key_parts``."""
        return cls(
            record_key=record_key(*key_parts),
            source=source,
            entity_id=entity_id,
            reason=reason,
            payload=payload,
            as_of_date=as_of,
            **more,
        )

    def as_row(self) -> dict[str, Any]:
        return self.model_dump()
