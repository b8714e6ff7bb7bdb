"""A real local Airflow 3 for the integration tests: api-server, scheduler and dag-processor subprocesses.

SQLite metadata DB and LocalExecutor in a temporary AIRFLOW_HOME, the repo's ``dags/``, SimpleAuthManager
with one admin user whose password is generated here, the API on a free port of 127.0.0.1. The scheduler
does not create scheduled runs (``use_job_schedule=False``): the only run is the one the tests trigger.
Every process is started in its own session and stopped with its whole process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.dags.conftest import BIN, DAGS_DIR, DBT_DIR, PLUGINS_DIR
from tests.integration.airflow_api import AirflowApi, AirflowApiError, Credentials

COMPONENTS = ("api-server", "scheduler", "dag-processor")
USERNAME = "integration"


class LocalStackError(RuntimeError):
    """The local Airflow could not be prepared or started; the message carries the log tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, limit: int = 3000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-limit:] if path.exists() else ""


ENVIRONMENTS = Path(__file__).resolve().parents[2] / "infrastructure" / "environments"


def tfvars(env: str) -> dict[str, str]:
    """The flat ``name = value`` settings of ``infrastructure/environments/<env>.tfvars`` (MWAA's
    configuration options included, by their dotted names)."""
    text = (ENVIRONMENTS / f"{env}.tfvars").read_text(encoding="utf-8")
    return dict(re.findall(r'^\s*"?([a-z_.]+)"?\s*=\s*"?([^"\n{]+?)"?\s*$', text, re.M))


MWAA_MODULE = ENVIRONMENTS.parent / "modules" / "mwaa" / "main.tf"


def mwaa_option(name: str) -> str:
    """An Airflow configuration option every MWAA environment gets from ``infrastructure/modules/mwaa``
    (its ``airflow_configuration_options`` defaults), for the local stack to run with the same value."""
    text = MWAA_MODULE.read_text(encoding="utf-8")
    found = re.search(rf'^\s*"{re.escape(name)}"\s*=\s*"([^"]*)"', text, re.M)
    if found is None:
        raise LocalStackError(f"{MWAA_MODULE} sets no {name}")
    return found.group(1)


def mwaa_worker_slots(env: str = "staging") -> int:
    """The task slots of one MWAA worker of the environment: the first number of its
    ``celery.worker_autoscale`` (sized in docs/airflow.md), which the local stack's LocalExecutor takes as its
    parallelism, so the twin runs as many tasks at once as one MWAA worker does."""
    return int(tfvars(env)["celery.worker_autoscale"].split(",")[0])


@dataclass
class LocalAirflow:
    home: Path
    target_path: Path  # holds the manifest.json Cosmos renders the DAG from
    base_env: dict[str, str]  # project overrides (TRENDING_NOW__..., secrets of the replay run)
    # the repo's dags/, or a bundle downloaded from the MWAA bucket (make rehearse)
    dags_folder: Path = DAGS_DIR
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    parallelism: int = field(default_factory=mwaa_worker_slots)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def logs(self) -> Path:
        return self.home / "process-logs"

    def env(self) -> dict[str, str]:
        passwords = self.home / "passwords.json"
        return {
            **self.base_env,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            # MWAA's plugins folder holds the same files (plugins.zip): airflow_local_settings.py
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            # the only run is the one the tests trigger: no scheduled run for "yesterday"
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            # MWAA's value (infrastructure/modules/mwaa): how soon the next task is queued after one ends
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": mwaa_option("scheduler.scheduler_idle_sleep_time"),
            # local only: how soon a new DAG file is listed (the run itself does not wait for it)
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
            "TRENDING_NOW__DBT__TARGET_PATH": str(self.target_path),
        }

    def __post_init__(self) -> None:
        self._jwt_secret = secrets.token_hex(32)
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({USERNAME: self.password}), encoding="utf-8")

    def api(self) -> AirflowApi:
        return AirflowApi(self.url, Credentials(username=USERNAME, password=self.password))

    # ---- preparation ---------------------------------------------------------------------------------
    def prepare(self, timeout_s: float = 300, parse_dbt: bool = True) -> None:
        """``airflow db migrate`` and ``dbt parse`` (the manifest for Cosmos) side by side; without the parse
        when the DAG folder brings its manifest (a bundle, as on MWAA)."""
        env = self.env()
        dbt_env = {
            **env,
            "DBT_TARGET_PATH": str(self.target_path),
            "DBT_LOG_PATH": str(self.home / "dbt-logs"),
        }
        jobs = {"db-migrate": self._spawn([str(BIN / "airflow"), "db", "migrate"], env, "db-migrate")}
        if parse_dbt:
            jobs["dbt-parse"] = self._spawn(
                [
                    str(BIN / "dbt"),
                    "--quiet",
                    "parse",
                    "--project-dir",
                    str(DBT_DIR),
                    "--profiles-dir",
                    str(DBT_DIR),
                ],
                dbt_env,
                "dbt-parse",
            )
        for name, proc in jobs.items():
            try:
                rc = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._kill_group(proc)
                rc = -9
            if rc != 0:
                raise LocalStackError(f"{name} exited {rc}:\n{tail(self.logs / f'{name}.log')}")
        if parse_dbt and not (self.target_path / "manifest.json").exists():
            raise LocalStackError(f"dbt parse wrote no manifest.json to {self.target_path}")

    # ---- processes -----------------------------------------------------------------------------------
    def _spawn(self, cmd: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{name}.log", "wb") as log:
            return subprocess.Popen(
                cmd,
                env=env,
                cwd=str(self.home),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() kills the workers it forks too
            )

    def start(self) -> None:
        env = self.env()
        for name in COMPONENTS:
            self.procs[name] = self._spawn([str(BIN / "airflow"), name], env, name)

    def dead_component(self) -> str | None:
        """Why the stack cannot make progress any more (a component exited), else None."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return f"airflow {name} exited {proc.returncode}:\n{tail(self.logs / f'{name}.log')}"
        return None

    def wait_until_serving(self, dag_id: str, timeout_s: float = 180) -> AirflowApi:
        """Wait for the API to answer, the scheduler to be healthy and the DAG to be parsed."""
        api = self.api()
        deadline = time.monotonic() + timeout_s
        last = "the API server did not answer"
        while time.monotonic() < deadline:
            problem = self.dead_component()
            if problem:
                raise LocalStackError(problem)
            try:
                health = api.health()
                if health.get("scheduler", {}).get("status") != "healthy":
                    last = f"scheduler not healthy yet: {health.get('scheduler')}"
                else:
                    api.dag(dag_id)
                    self.warm_execution_api(max(deadline - time.monotonic(), 120.0))
                    return api
            except (OSError, AirflowApiError) as exc:  # requests' ConnectionError is an OSError
                last = str(exc)[:500]
            time.sleep(1.0)
        raise LocalStackError(
            f"local Airflow not serving {dag_id} after {timeout_s:.0f} s ({last});\n"
            + "\n".join(f"--- {n}:\n{tail(self.logs / f'{n}.log', 1500)}" for n in COMPONENTS)
        )

    def warm_execution_api(self, timeout_s: float) -> None:
        """Answer the api-server's first Execution API request before any task makes it.

        A fresh api-server spends its first request under ``/execution/`` on a one-off set-up of that
        sub-application, in its event loop (15.7 s on 2 loaded cores, measured with ``GET
        /execution/health``; the next request: 0.01 s). Without this, the first task's supervisor made that request (``PATCH
        .../run``), its HTTP client timed out and retried, and the first task of every run started 15-31 s
        late. A long-running api-server (MWAA's) pays it once per process start, not per DAG run.
        """
        resp = requests.get(f"{self.url}/execution/health", timeout=timeout_s)
        if resp.status_code != 200:
            raise AirflowApiError(f"GET /execution/health -> {resp.status_code} {resp.text[:300]}")

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # the session leader's group: the task workers it forked too

    @classmethod
    def _kill_group(cls, proc: subprocess.Popen[bytes], grace_s: float = 15) -> None:
        cls._signal_group(proc, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
        cls._signal_group(proc, signal.SIGKILL)  # whatever of the group outlived the grace period
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            self._signal_group(proc, signal.SIGTERM)
        for proc in self.procs.values():
            self._kill_group(proc)
