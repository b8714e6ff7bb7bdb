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

A node without data tests keeps Cosmos' own sensor. :func:`converter` is the ``RenderConfig.node_converters``
entry that builds these tasks from the task metadata Cosmos computes for the node.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.exceptions import AirflowException
from cosmos.airflow.graph import _get_dbt_dag_task_group_identifier, create_task_metadata
from cosmos.constants import DbtResourceType
from cosmos.core.airflow import get_airflow_task
from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
from cosmos.operators._watcher.state import DbtTestStatus, get_xcom_val
from cosmos.operators.watcher import DbtConsumerWatcherSensor, DbtRunWatcherOperator, DbtSeedWatcherOperator

SUFFIX = "build"


class _WithDataTests(DbtConsumerWatcherSensor):
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


WATCHERS = {DbtResourceType.MODEL: DbtModelWatcher, DbtResourceType.SEED: DbtSeedWithTestsWatcher}


def converter(render_config: Any) -> Any:
    """A ``RenderConfig.node_converters`` function for models and seeds: Cosmos' own task when the node has
    no data test, else the node's :data:`WATCHERS` sensor named ``<node>_build``, built from the metadata
    Cosmos computes for the node (its ``--select``, profile, project and the producer it watches)."""

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
        if meta is None or not node.has_test:
            return get_airflow_task(meta, dag, task_group=task_group) if meta else None
        arguments = {**meta.arguments, **({"owner": meta.owner} if meta.owner else {})}
        return WATCHERS[node.resource_type](
            task_id=f"{node.name}_{SUFFIX}",
            dag=dag,
            task_group=task_group,
            extra_context=meta.extra_context,
            **arguments,
        )

    return convert
