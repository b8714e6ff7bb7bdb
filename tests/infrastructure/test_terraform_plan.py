"""`terraform plan` of every environment against a local moto server (no AWS account, no network).

`terraform validate` never reads the tfvars files; a plan does: it evaluates the variable
validations with each environment's values, the for_each/count keys, file functions and every
expression that only resolves with real inputs. Only the data sources (caller identity,
availability zones, the GitHub OIDC provider) are answered by moto; nothing is created.

Needs `terraform` on PATH and a local provider mirror (TF_PLUGIN_MIRROR, default
/opt/tf-plugins); skipped otherwise. Marked slow (about 10 s per environment).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from mwaa_wheelhouse import requirements_text

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infrastructure"
ENVIRONMENTS = ("dev", "staging", "prod")

pytestmark = pytest.mark.slow

OVERRIDE = """\
terraform {
  backend "local" {}
}

provider "aws" {
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true

  endpoints {
    ec2 = "ENDPOINT"
    iam = "ENDPOINT"
    s3  = "ENDPOINT"
    sts = "ENDPOINT"
  }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = Path(sys.executable).parent / "moto_server"
    if not server.exists():
        pytest.skip("moto_server is not installed next to the interpreter")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("moto_server did not start")
                time.sleep(0.3)
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        iam.create_open_id_connect_provider(
            Url="https://token.actions.githubusercontent.com",
            ClientIDList=["sts.amazonaws.com"],
            ThumbprintList=["0" * 40],
        )
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> tuple[Path, dict[str, str]]:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed here")
    mirror = Path(os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
    if not (mirror / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip("no local provider mirror (set TF_PLUGIN_MIRROR)")

    base = tmp_path_factory.mktemp("plan")
    work = base / "infrastructure"
    shutil.copytree(INFRA, work, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan"))
    # mwaa_requirements_file, mwaa_plugins_file = ../build/mwaa/{requirements.txt,plugins.zip}: the plan
    # hashes them only, so the real requirements file and an empty zip stand in for `make mwaa-wheelhouse`
    mwaa = base / "build" / "mwaa"
    mwaa.mkdir(parents=True)
    (mwaa / "requirements.txt").write_text(requirements_text(), encoding="utf-8")
    zipfile.ZipFile(mwaa / "plugins.zip", "w").close()
    (work / "override.tf").write_text(OVERRIDE.replace("ENDPOINT", moto_endpoint), encoding="utf-8")
    cli_config = base / "terraformrc"
    cli_config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and not key.startswith("TF_")
    }
    env.update(
        TF_CLI_CONFIG_FILE=str(cli_config),
        TF_DATA_DIR=str(base / "tfdata"),
        TF_IN_AUTOMATION="1",
        CHECKPOINT_DISABLE="1",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true",
    )
    init = subprocess.run(
        [terraform, "init", "-input=false", "-no-color", "-lockfile=readonly"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    return work, env


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_plan(workdir: tuple[Path, dict[str, str]], env_name: str) -> None:
    work, env = workdir
    result = subprocess.run(
        [
            "terraform",
            "plan",
            "-input=false",
            "-no-color",
            "-lock=false",
            f"-var-file=environments/{env_name}.tfvars",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Warning:" not in result.stdout + result.stderr, result.stdout[-4000:] + result.stderr[-4000:]
    added = re.search(r"Plan: (\d+) to add, 0 to change, 0 to destroy", result.stdout)
    assert added and int(added.group(1)) > 80, result.stdout[-2000:]
    for output, value in (
        ("secrets__aws_secret_id", f"trending-now/{env_name}"),
        ("mwaa_environment_name", f"trending-now-{env_name}"),
        ("aws__region", "us-east-1"),
        ("warehouse__redshift__database", "trending_now"),
    ):
        assert re.search(rf'\+ {output}\s+= "{re.escape(value)}"', result.stdout), (
            f"output {output} != {value}"
        )
    # the Airflow MWAA runs is the one requirements-mwaa.txt pins (both from the MWAA constraints file)
    airflow = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements-mwaa.txt").read_text(), re.M)
    assert airflow and re.search(rf'\+ airflow_version\s+= "{re.escape(airflow.group(1))}"', result.stdout)
    assert re.search(r'\+ key\s+= "requirements.txt"', result.stdout)
    assert re.search(r'\+ key\s+= "plugins.zip"', result.stdout)
    assert re.search(r'\+ plugins_s3_path\s+= "plugins.zip"', result.stdout)
