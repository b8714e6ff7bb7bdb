"""One sensor per dbt model (or seed) that reports the node **and** its data tests, in ``ExecutionMode.WATCHER``.

Cosmos 1.15's watcher mode renders ``TestBehavior.AFTER_EACH`` as two sensors per tested model: ``<model>.run``
and ``<model>.test``; it has no ``TestBehavior.BUILD`` shape (one task per model for the model and its tests).
Each task costs its own start, API calls and scheduling, while the producer's one ``dbt build`` already runs
the model and its tests and publishes both results (the node's ``<uid>_status`` and the aggregated
``<uid>_tests_status`` XCom). So a tested node gets one task, ``<node>_build``:

* it succeeds when the producer built the node and every data test of it passed;
* it fails when the node failed, or was built and a data test failed (the test's message is in the
  producer's log): a failing test still stops everything after it;
* its retry runs ``dbt build --select <node>``, the node and its data tests (Cosmos' fallback with the
  command set to ``build``), as ``ExecutionMode.LOCAL`` with ``TestBehavior.BUILD`` would.

A node without data tests keeps Cosmos' own sensor and task id (``<model>_run``, ``<seed>_seed``).
:func:`converter` is the ``RenderConfig.node_converters`` entry that builds these tasks from the task metadata
Cosmos computes for the node.

Every sensor of a group starts right after the group's producer (``dbt_groups.wait_for_the_build``), not after
the sensors of its dbt parents: the build is over, so each finds its node's result at its first poke, and a
chain of sensors would only add a worker start and a scheduler loop per level. The dbt order matters again
for a **retry**, which runs dbt for the node alone: it first reads the states of the sensors of the node's
parents in the group (:attr:`_AfterUpstreamSensors.upstream_sensors`), waits (rescheduled, no worker slot
held) while one of them has not succeeded yet, fails for good when one failed for good, and only then runs
its fallback.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from airflow.exceptions import AirflowException
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from cosmos.airflow.graph import _get_dbt_dag_task_group_identifier, create_task_metadata
from cosmos.constants import DbtResourceType
from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
from cosmos.operators._watcher.state import DbtTestStatus, get_xcom_val
from cosmos.operators.watcher import DbtConsumerWatcherSensor, DbtRunWatcherOperator, DbtSeedWatcherOperator

SUFFIX = "build"
# A retry waiting for its upstream sensors looks again this often (rescheduled in between: no worker slot held).
UPSTREAM_POKE_S = 20
# ...after watching them first in its own process, every UPSTREAM_CHECK_S for UPSTREAM_HOLD_S: a parent's retry
# (dbt for one node) takes seconds, and a cleared group retries every sensor at once (Cosmos' producer does not
# build twice), so most waits end within the hold instead of a reschedule per level of the group's dbt graph
# (the rehearsal's cleared publish group: 56-83 s with reschedules only). The hold is bounded: a slot held by a
# waiting child is free again after it, so a parent's retry always gets one. A shorter reschedule than 20 s is
# not safe: LocalExecutor reports the rescheduled process's end late enough (5 s seen) to fail the next try.
UPSTREAM_HOLD_S = 15
UPSTREAM_CHECK_S = 1
_FAILED_FOR_GOOD = frozenset({"failed", "upstream_failed"})


def hold(seconds: float) -> None:
    """Wait in the task's process between two looks at the upstream sensors (tests replace it)."""
    time.sleep(seconds)


def task_states(dag_id: str, run_id: str, task_ids: list[str]) -> dict[str, str | None]:
    """The states of ``task_ids`` in the run (Execution API), None for one not started."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    states = RuntimeTaskInstance.get_task_states(dag_id=dag_id, task_ids=task_ids, run_ids=[run_id])
    found = states.get(run_id, {})
    return {task_id: (str(found[task_id]) if found.get(task_id) else None) for task_id in task_ids}


class _AfterUpstreamSensors(DbtConsumerWatcherSensor):
    """Cosmos' fallback (dbt for this node alone: a retry, or a producer that reported nothing for it) runs
    only once the sensors of the node's parents in the group succeeded."""

    # the task ids of the sensors of the node's dbt parents in the group (dbt_groups.wait_for_the_build)
    upstream_sensors: tuple[str, ...] = ()

    def execute(self, context: Any, **kwargs: Any) -> None:
        if context["ti"].try_number > 1 and self.execution_timeout is not None:
            # a retry may wait for its upstream sensors' own retries and their backoff
            self.timeout = max(self.timeout, self.execution_timeout.total_seconds())
        super().execute(context, **kwargs)

    def _fallback_to_non_watcher_run(self, try_number: int, context: Any) -> bool:
        if not self.upstream_succeeded(context):
            return False
        return bool(super()._fallback_to_non_watcher_run(try_number, context))

    def upstream_succeeded(self, context: Any) -> bool:
        """True when every upstream sensor succeeded (looked at every :data:`UPSTREAM_CHECK_S` for up to
        :data:`UPSTREAM_HOLD_S`); False while one may still succeed after that (the sensor is rescheduled and
        pokes again in :data:`UPSTREAM_POKE_S`); fails (no retry) or skips as Airflow's ``all_success`` rule
        would when one failed for good or was skipped."""
        if not self.upstream_sensors:
            return True
        checks = int(UPSTREAM_HOLD_S / UPSTREAM_CHECK_S)
        for check in range(checks + 1):
            waiting = self._upstream_waiting(context)
            if not waiting:
                return True
            if check < checks:
                hold(UPSTREAM_CHECK_S)
        self.log.info("waiting for %s before running dbt for %s", ", ".join(waiting), self.model_unique_id)
        self.poke_interval = UPSTREAM_POKE_S
        return False

    def _upstream_waiting(self, context: Any) -> list[str]:
        """The upstream sensors not done yet; raises when one failed for good or was skipped."""
        ti = context["ti"]
        states = task_states(ti.dag_id, context["run_id"], list(self.upstream_sensors))
        failed = sorted(t for t, state in states.items() if state in _FAILED_FOR_GOOD)
        if failed:
            raise AirflowFailException(
                f"not running dbt for {self.model_unique_id}: the sensor of a node it reads failed ({', '.join(failed)})"
            )
        skipped = sorted(t for t, state in states.items() if state == "skipped")
        if skipped:
            raise AirflowSkipException(
                f"a node {self.model_unique_id} reads was skipped ({', '.join(skipped)})"
            )
        return sorted(t for t, state in states.items() if state != "success")


class _WithDataTests(_AfterUpstreamSensors):
    """Poke: the node's own result (Cosmos), then its data tests' aggregated result."""

    # The retry's fallback: `dbt build --select <node>`, the node and its data tests.
    base_cmd: ClassVar[list[str]] = ["build"]

    def poke(self, context: Any) -> bool:
        if not super().poke(context):
            return False
        ti = context["ti"]
        if ti.try_number > 1:  # the fallback ran `dbt build` for the node: node and tests passed
            return True
        status = get_xcom_val(ti, self.producer_task_id, get_tests_status_xcom_key(self.model_unique_id))
        if status is None:  # not every test reported: the producer failed before them, or still runs
            state = self._get_producer_task_status(context)
            return self._handle_no_dbt_node_status(state, ti.try_number, context)
        if status != DbtTestStatus.PASS:
            raise AirflowException(
                f"{self.model_unique_id} was built but a data test of it failed: "
                f"see the log of {self.producer_task_id}"
            )
        self.log.info("%s and its data tests passed", self.model_unique_id)
        return True


class DbtModelWatcher(_WithDataTests, DbtRunWatcherOperator):
    """A model and its data tests."""


class DbtSeedWithTestsWatcher(_WithDataTests, DbtSeedWatcherOperator):
    """A seed and its data tests."""


class DbtModelRunWatcher(_AfterUpstreamSensors, DbtRunWatcherOperator):
    """A model without data tests (Cosmos' ``<model>_run`` sensor)."""


class DbtSeedRunWatcher(_AfterUpstreamSensors, DbtSeedWatcherOperator):
    """A seed without data tests (Cosmos' ``<seed>_seed`` sensor)."""


WATCHERS = {DbtResourceType.MODEL: DbtModelWatcher, DbtResourceType.SEED: DbtSeedWithTestsWatcher}
UNTESTED = {DbtResourceType.MODEL: DbtModelRunWatcher, DbtResourceType.SEED: DbtSeedRunWatcher}


def converter(render_config: Any) -> Any:
    """A ``RenderConfig.node_converters`` function for models and seeds: the node's :data:`WATCHERS` sensor
    named ``<node>_build`` when it has data tests, else its :data:`UNTESTED` sensor under Cosmos' own task id,
    built from the metadata Cosmos computes for the node (its ``--select``, profile, project and the producer
    it watches)."""

    def convert(
        dag: Any,
        task_group: Any,
        node: Any,
        task_args: dict[str, Any],
        execution_mode: Any,
        test_indirect_selection: Any,
        on_warning_callback: Any = None,
        detached_from_parent: Any = None,
        **_: Any,
    ) -> Any:
        meta = create_task_metadata(
            node=node,
            execution_mode=execution_mode,
            args=task_args,
            dbt_dag_task_group_identifier=_get_dbt_dag_task_group_identifier(dag, task_group),
            render_config=render_config,
            test_indirect_selection=test_indirect_selection,
            on_warning_callback=on_warning_callback,
            detached_from_parent=detached_from_parent,
        )
        if meta is None:
            return None
        arguments = {**meta.arguments, **({"owner": meta.owner} if meta.owner else {})}
        sensor = (WATCHERS if node.has_test else UNTESTED)[node.resource_type]
        return sensor(
            task_id=f"{node.name}_{SUFFIX}" if node.has_test else meta.id,
            dag=dag,
            task_group=task_group,
            extra_context=meta.extra_context,
            **arguments,
        )

    return convert
