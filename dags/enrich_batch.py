"""The ``enrich_titles`` task: with ``enrich.mode: batch`` it waits for the Gemini batch in the triggerer.

:class:`EnrichTitlesOperator` first re-attaches to the open batches or submits this run's
(``enrich.batch.prepare_batches``, under the run lock; the ledger row is written before the wait), then
defers to :class:`GeminiBatchTrigger`, which polls ``batches.get`` with the SDK's async client every
``enrich.batch.poll_interval_s``: no worker slot is held for the hours a batch may take. When every batch
has ended, the task resumes and runs the ``enrich_titles`` step, which harvests and re-queues exactly as
the CLI does (and records the step in ``ops.pipeline_runs``). A retry of the task re-attaches (the
ledger knows the batch); nothing is submitted twice. In ``sync`` mode the operator just runs the step.

The trigger is serialised with the batch names only: it reads the settings and the API key itself, in
the triggerer, so no secret is stored in the metadata database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from airflow.exceptions import AirflowException
from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

from trending_now.pipeline import ENRICH_TITLES

STEP = ENRICH_TITLES.name


class GeminiBatchTrigger(BaseTrigger):
    """Fires once every named batch has ended (succeeded, failed, cancelled or expired)."""

    def __init__(self, names: list[str], poll_interval_s: float) -> None:
        super().__init__()
        self.names = list(names)
        self.poll_interval_s = float(poll_interval_s)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "names": self.names,
            "poll_interval_s": self.poll_interval_s,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from core.config import load_settings
        from enrich.providers.base import TransientError
        from enrich.providers.gemini import GeminiConfig
        from enrich.providers.gemini_batch import SDK_ERRORS, poll_once, provider_error

        settings = await asyncio.to_thread(load_settings)
        config = GeminiConfig.from_settings(settings)
        key = settings.secrets.get("GEMINI_API_KEY") or ""
        while True:
            states: dict[str, str] = {}
            try:
                for name in self.names:
                    states[name] = (await poll_once(config, key, name)).state
            except SDK_ERRORS as exc:
                error = provider_error(exc, config.retry_statuses)
                if not isinstance(error, TransientError):  # a refused key, an unknown batch: no poll helps
                    yield TriggerEvent({"status": "error", "message": str(error)})
                    return
                self.log.warning("polling the Gemini batch failed, trying again: %s", error)
                await asyncio.sleep(self.poll_interval_s)
                continue
            if all(state in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED") for state in states.values()):
                yield TriggerEvent({"status": "done", "states": states})
                return
            self.log.info("Gemini batch(es) %s; next poll in %.0fs", states, self.poll_interval_s)
            await asyncio.sleep(self.poll_interval_s)


class EnrichTitlesOperator(BaseOperator):
    """Runs the ``enrich_titles`` step; in batch mode, after a deferred wait for the Gemini batch."""

    STEP = STEP

    def execute(self, context: Any) -> dict[str, Any]:
        from step_tasks import prepare_enrichment_batches, run_step

        waiting, poll_s, max_wait_s = prepare_enrichment_batches(context)
        if waiting:
            self.log.info("waiting for Gemini batch(es) %s in the triggerer", ", ".join(waiting))
            self.defer(
                trigger=GeminiBatchTrigger(waiting, poll_s),
                method_name="execute_complete",
                timeout=timedelta(seconds=max_wait_s),
            )
        return run_step(STEP, context)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        if not event or event.get("status") != "done":
            raise AirflowException(f"waiting for the Gemini batch failed: {(event or {}).get('message')}")
        from step_tasks import run_step

        self.log.info("Gemini batch(es) ended: %s", event.get("states"))
        return run_step(STEP, context)  # harvest, re-queue, record: no new batch this run
