"""Offline checks of the Terraform in infrastructure/ (no AWS account, no network).

- every .tf/.tfvars/.hcl file parses with hcl2;
- each module call passes exactly the variables its module declares;
- each root variable without a default is set in every environments/<env>.tfvars;
- the per-environment partial backend configs agree with the tfvars;
- the root outputs include one output per application config key that CD fills;
- Terraform and the AWS provider are pinned (constraints and lock file);
- every S3 bucket has versioning, default encryption, a public access block, lifecycle rules and a
  TLS-only bucket policy;
- no secret values in the code;
- checkov passes (skips only inline, with a reason);
- `terraform fmt`/`validate` when terraform (and, for validate, a provider mirror) is available.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infrastructure"
MODULES = INFRA / "modules"
ENVIRONMENTS = ("dev", "staging", "prod")
# Roots that Terraform is run in (each with its own state and lock file).
TF_ROOTS = (INFRA, INFRA / "bootstrap")
EXPECTED_MODULES = {"kms", "network", "s3", "secrets", "iam", "redshift", "mwaa", "docs_site"}

# Application config keys (config/<env>.yaml) that CD fills from Terraform outputs.
CONFIG_KEYS = (
    "warehouse.redshift.host",
    "warehouse.redshift.port",
    "warehouse.redshift.database",
    "warehouse.redshift.iam_role_arn",
    "warehouse.redshift.staging_bucket_url",
    "dvc.s3_url",
    "secrets.aws_secret_id",
    "aws.region",
    "airflow.dags_bucket",
)
MODULE_META_ARGUMENTS = {"source", "version", "providers", "count", "for_each", "depends_on"}
BUCKET_COMPANIONS = {
    "aws_s3_bucket_versioning": "versioning",
    "aws_s3_bucket_server_side_encryption_configuration": "default encryption",
    "aws_s3_bucket_public_access_block": "public access block",
    "aws_s3_bucket_lifecycle_configuration": "lifecycle rules",
    "aws_s3_bucket_policy": "bucket policy",
}


# ---- hcl2 helpers ---------------------------------------------------------------------------------
# python-hcl2 and checkov's bc-python-hcl2 both install the `hcl2` package and differ in shape
# (attributes wrapped in one-element lists, string literals quoted or not): normalise both.
def _value(raw: Any) -> Any:
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if isinstance(raw, str) and len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    return raw


def _label(raw: str) -> str:
    """Block labels: ``name`` (bc-python-hcl2) or ``"name"`` (python-hcl2 >= 7)."""
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw


def _attr(block: dict[str, Any], name: str, default: Any = None) -> Any:
    return _value(block[name]) if name in block else default


def _blocks(raw: Any) -> list[dict[str, Any]]:
    """Nested block(s) as a list of bodies."""
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [raw]
    return [b for b in raw if isinstance(b, dict)]


def _body_keys(body: dict[str, Any]) -> set[str]:
    return {k for k in body if not k.startswith("__")}


@cache
def _parse(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle)


def _tf_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.tf") if p.is_file())


def _all_tf_files() -> list[Path]:
    return sorted(p for p in INFRA.rglob("*.tf") if ".terraform" not in p.parts)


def _labelled(directory: Path, kind: str) -> dict[str, dict[str, Any]]:
    """``variable``/``output``/``module`` blocks of a directory: name -> body."""
    found: dict[str, dict[str, Any]] = {}
    for path in _tf_files(directory):
        for entry in _parse(path).get(kind, []):
            for raw_name, body in entry.items():
                if raw_name.startswith("__"):
                    continue
                name = _label(raw_name)
                assert name not in found, f"{kind} {name!r} declared twice in {directory}"
                found[name] = body
    return found


def _resources(directory: Path, kind: str = "resource") -> list[tuple[str, str, dict[str, Any]]]:
    """(type, name, body) of the resources (or data sources) of a directory."""
    found = []
    for path in _tf_files(directory):
        for entry in _parse(path).get(kind, []):
            for rtype, named in entry.items():
                if rtype.startswith("__"):
                    continue
                for name, body in named.items():
                    if not name.startswith("__"):
                        found.append((_label(rtype), _label(name), body))
    return found


def _terraform_blocks(directory: Path) -> list[dict[str, Any]]:
    return [b for path in _tf_files(directory) for b in _blocks(_parse(path).get("terraform"))]


def _tfvars(env: str) -> dict[str, Any]:
    data = _parse(INFRA / "environments" / f"{env}.tfvars")
    return {k: _value(v) for k, v in data.items() if not k.startswith("__")}


def _backend(env: str) -> dict[str, Any]:
    data = _parse(INFRA / "environments" / f"{env}.backend.hcl")
    return {k: _value(v) for k, v in data.items() if not k.startswith("__")}


def _module_dirs() -> list[Path]:
    return sorted(p for p in MODULES.iterdir() if p.is_dir())


# ---- parsing and layout ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", _all_tf_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_tf_file_parses(path: Path) -> None:
    assert isinstance(_parse(path), dict)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_files_parse(env: str) -> None:
    assert _tfvars(env)
    assert _backend(env)


def test_root_and_modules_have_the_standard_files() -> None:
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert (INFRA / name).is_file(), f"infrastructure/{name} is missing"
    assert {p.name for p in _module_dirs()} == EXPECTED_MODULES
    for module in _module_dirs():
        for name in ("main.tf", "variables.tf", "outputs.tf"):
            assert (module / name).is_file(), f"{module.relative_to(INFRA)}/{name} is missing"


@pytest.mark.parametrize("directory", [INFRA, INFRA / "bootstrap", *_module_dirs()], ids=lambda p: p.name)
def test_variables_and_outputs_are_documented_and_typed(directory: Path) -> None:
    for name, body in _labelled(directory, "variable").items():
        assert _attr(body, "description"), f"{directory.name}: variable {name} has no description"
        assert _attr(body, "type"), f"{directory.name}: variable {name} has no type"
    outputs = _labelled(directory, "output")
    assert outputs, f"{directory.name} declares no outputs"
    for name, body in outputs.items():
        assert _attr(body, "description"), f"{directory.name}: output {name} has no description"


# ---- module interfaces ----------------------------------------------------------------------------
def test_module_calls_pass_exactly_the_declared_variables() -> None:
    calls = _labelled(INFRA, "module")
    called_dirs = set()
    for call_name, body in calls.items():
        source = _attr(body, "source")
        assert source.startswith("./modules/"), f"module {call_name}: unexpected source {source!r}"
        module_dir = (INFRA / source).resolve()
        called_dirs.add(module_dir)
        declared = set(_labelled(module_dir, "variable"))
        passed = _body_keys(body) - MODULE_META_ARGUMENTS
        unknown = passed - declared
        missing = declared - passed
        assert not unknown, f"module {call_name} is passed undeclared variables: {sorted(unknown)}"
        assert not missing, f"module {call_name} does not pass: {sorted(missing)}"
    assert called_dirs == {p.resolve() for p in _module_dirs()}, "every module is called by the root"


def test_module_outputs_used_by_the_root_exist() -> None:
    declared = {p.name: set(_labelled(p, "output")) for p in _module_dirs()}
    calls = _labelled(INFRA, "module")
    source_of = {name: Path(_attr(body, "source")).name for name, body in calls.items()}
    text = "\n".join(p.read_text(encoding="utf-8") for p in _tf_files(INFRA))
    for call, output in set(re.findall(r"\bmodule\.([a-z0-9_]+)\.([a-z0-9_]+)", text)):
        assert call in source_of, f"reference to unknown module call {call}"
        assert output in declared[source_of[call]], f"module.{call}.{output} is not an output of the module"


@pytest.mark.parametrize("directory", [INFRA, *_module_dirs()], ids=lambda p: p.name)
def test_var_references_are_declared(directory: Path) -> None:
    declared = set(_labelled(directory, "variable"))
    text = "\n".join(p.read_text(encoding="utf-8") for p in _tf_files(directory))
    used = set(re.findall(r"\bvar\.([A-Za-z0-9_]+)", text))
    assert used <= declared, f"{directory.name}: undeclared variables used: {sorted(used - declared)}"
    unused = declared - used
    assert not unused, f"{directory.name}: variables declared but never used: {sorted(unused)}"


# ---- environments ---------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_required_root_variable_is_set_in_each_environment(env: str) -> None:
    variables = _labelled(INFRA, "variable")
    required = {name for name, body in variables.items() if "default" not in body}
    values = _tfvars(env)
    assert required, "the root has required variables (environment, region, ...)"
    missing = required - set(values)
    assert not missing, f"{env}.tfvars does not set {sorted(missing)}"
    unknown = set(values) - set(variables)
    assert not unknown, f"{env}.tfvars sets undeclared variables {sorted(unknown)}"
    assert values["environment"] == env


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_backend_config_matches_the_environment(env: str) -> None:
    backends = [b for block in _terraform_blocks(INFRA) for b in _blocks(block.get("backend"))]
    labels = [{_label(k): v for k, v in b.items() if not k.startswith("__")} for b in backends]
    assert len(labels) == 1 and set(labels[0]) == {"s3"}, "the root declares one (partial) s3 backend"
    assert not _body_keys(labels[0]["s3"] or {}), (
        "the s3 backend is partial: settings live in <env>.backend.hcl"
    )

    backend, values = _backend(env), _tfvars(env)
    project = _attr(_labelled(INFRA, "variable")["project"], "default")
    assert {f: backend[f] for f in ("key", "bucket", "dynamodb_table", "region")} == {
        "key": f"{project}/{env}/terraform.tfstate",
        "bucket": values["terraform_state_bucket"],
        "dynamodb_table": values["terraform_lock_table"],
        "region": values["aws_region"],
    }
    assert backend["encrypt"] in (True, "true")


def test_environments_use_distinct_networks() -> None:
    cidrs = [_tfvars(env)["vpc_cidr"] for env in ENVIRONMENTS]
    assert len(set(cidrs)) == len(cidrs)


# ---- outputs for the application config -----------------------------------------------------------
def test_root_outputs_cover_the_config_keys() -> None:
    outputs = _labelled(INFRA, "output")
    for key in CONFIG_KEYS:
        name = key.replace(".", "__")
        assert name in outputs, f"root output {name} (config key {key}) is missing"
    # Every "__" output is a config key that the application knows about.
    base = ROOT / "config" / "base.yaml"
    if base.is_file():
        config = yaml.safe_load(base.read_text(encoding="utf-8"))
        for name in outputs:
            if "__" not in name:
                continue
            node: Any = config
            for part in name.split("__"):
                assert isinstance(node, dict) and part in node, (
                    f"output {name}: no such key in config/base.yaml"
                )
                node = node[part]


def test_render_config_requires_the_same_keys() -> None:
    spec = importlib.util.spec_from_file_location("render_config", INFRA / "scripts" / "render_config.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert tuple(module.REQUIRED_KEYS) == CONFIG_KEYS


# ---- pinning --------------------------------------------------------------------------------------
def _has_upper_bound(constraint: str) -> bool:
    return (
        "~>" in constraint
        or "<" in constraint
        or re.fullmatch(r"=?\s*\d+\.\d+\.\d+", constraint.strip()) is not None
    )


def _required_providers(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """name -> {source, version} of each ``required_providers`` entry of the terraform blocks."""
    return {
        _label(name): {k: _value(v) for k, v in _value(spec).items()}
        for block in blocks
        for entry in _blocks(block.get("required_providers"))
        for name, spec in entry.items()
        if not name.startswith("__")
    }


@pytest.mark.parametrize("directory", [*TF_ROOTS, *_module_dirs()], ids=lambda p: p.name)
def test_terraform_and_providers_are_pinned(directory: Path) -> None:
    blocks = _terraform_blocks(directory)
    assert blocks, f"{directory.name}: no terraform block"
    required_version = next((_attr(b, "required_version") for b in blocks if "required_version" in b), None)
    assert required_version and ">= 1.6" in required_version and _has_upper_bound(required_version)
    providers = _required_providers(blocks)
    assert "aws" in providers, f"{directory.name}: the aws provider is not declared"
    unpinned = {
        name: spec for name, spec in providers.items()
        if spec.get("source") != f"hashicorp/{name}" or not _has_upper_bound(spec.get("version", ""))
    }
    assert unpinned == {}, f"{directory.name}: providers without a hashicorp source or a pinned version"


@pytest.mark.parametrize("directory", TF_ROOTS, ids=lambda p: p.name)
def test_lock_file_pins_the_provider(directory: Path) -> None:
    lock = (directory / ".terraform.lock.hcl").read_text(encoding="utf-8")
    match = re.search(r'provider "registry.terraform.io/hashicorp/aws" \{\s*version\s*=\s*"([0-9.]+)"', lock)
    assert match, f"{directory.name}/.terraform.lock.hcl does not lock hashicorp/aws"
    major, minor, _patch = (int(x) for x in match.group(1).split("."))
    assert (major, minor) >= (5, 100) and major == 5, "locked version outside ~> 5.100"
    assert re.search(r'"h1:[A-Za-z0-9+/=]+"', lock), "no h1: checksum"


def test_modules_do_not_configure_providers() -> None:
    for module in _module_dirs():
        for path in _tf_files(module):
            assert "provider" not in _parse(path), f"{path.relative_to(INFRA)} configures a provider"


# ---- S3 hardening ---------------------------------------------------------------------------------
def _references(body: dict[str, Any], bucket_name: str) -> bool:
    target = f"aws_s3_bucket.{bucket_name}"
    bucket = str(_attr(body, "bucket", ""))
    for_each = str(_attr(body, "for_each", ""))
    direct = re.search(rf"\b{re.escape(target)}(\[|\.|\}})", bucket) is not None
    via_each = re.search(rf"\b{re.escape(target)}\b(?![.\[])", for_each) is not None
    return direct or (via_each and "each." in bucket)


def _bucket_dirs() -> list[Path]:
    return [d for d in [*TF_ROOTS, *_module_dirs()] if any(t == "aws_s3_bucket" for t, _, _ in _resources(d))]


def test_s3_buckets_exist_where_expected() -> None:
    assert {d.name for d in _bucket_dirs()} == {"s3", "bootstrap", "docs_site"}


@pytest.mark.parametrize("directory", _bucket_dirs(), ids=lambda p: p.name)
def test_every_bucket_is_hardened(directory: Path) -> None:
    resources = _resources(directory)
    buckets = [name for rtype, name, _ in resources if rtype == "aws_s3_bucket"]
    for bucket in buckets:
        for companion, what in BUCKET_COMPANIONS.items():
            matches = [
                body for rtype, _, body in resources if rtype == companion and _references(body, bucket)
            ]
            assert matches, f"{directory.name}: bucket {bucket} has no {what} ({companion})"
            check = COMPANION_CHECKS.get(companion)
            if check is not None:
                check(directory, bucket, matches[0])


def _check_versioning(directory: Path, bucket: str, body: dict[str, Any]) -> None:
    assert _attr(_blocks(body["versioning_configuration"])[0], "status") == "Enabled", bucket


def _check_encryption(directory: Path, bucket: str, body: dict[str, Any]) -> None:
    rule = _blocks(body["rule"])[0]
    default = _blocks(rule["apply_server_side_encryption_by_default"])[0]
    assert _attr(default, "sse_algorithm") in ("aws:kms", "AES256"), bucket


def _check_public_access_block(directory: Path, bucket: str, body: dict[str, Any]) -> None:
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    assert {flag: _attr(body, flag) for flag in flags} == dict.fromkeys(flags, True), bucket


def _check_lifecycle(directory: Path, bucket: str, body: dict[str, Any]) -> None:
    text = repr(body)
    assert "abort_incomplete_multipart_upload" in text and "noncurrent_version_expiration" in text, bucket


def _check_policy(directory: Path, bucket: str, body: dict[str, Any]) -> None:
    doc = re.search(r"data\.aws_iam_policy_document\.([a-z0-9_]+)", str(_attr(body, "policy")))
    assert doc, f"{bucket}: bucket policy is not an aws_iam_policy_document"
    _assert_tls_only(directory, doc.group(1))


COMPANION_CHECKS = {
    "aws_s3_bucket_versioning": _check_versioning,
    "aws_s3_bucket_server_side_encryption_configuration": _check_encryption,
    "aws_s3_bucket_public_access_block": _check_public_access_block,
    "aws_s3_bucket_lifecycle_configuration": _check_lifecycle,
    "aws_s3_bucket_policy": _check_policy,
}


def _assert_tls_only(directory: Path, document: str) -> None:
    docs = {
        name: body
        for rtype, name, body in _resources(directory, "data")
        if rtype == "aws_iam_policy_document"
    }
    statements = _blocks(docs[document].get("statement"))
    for statement in statements:
        conditions = _blocks(statement.get("condition"))
        if _attr(statement, "effect") == "Deny" and any(
            _attr(c, "variable") == "aws:SecureTransport" and _value(_attr(c, "values")) == "false"
            for c in conditions
        ):
            return
    pytest.fail(f"{directory.name}: policy document {document} does not deny aws:SecureTransport=false")


def test_mwaa_bucket_name_starts_with_airflow() -> None:
    text = (MODULES / "s3" / "main.tf").read_text(encoding="utf-8")
    assert re.search(r'mwaa\s*=\s*"airflow-', text), (
        "MWAA requires its source bucket name to start with airflow-"
    )


# ---- secrets --------------------------------------------------------------------------------------
SECRET_PATTERNS = (
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"(?i)\b(password|secret_string|secret_key|access_key|api_key)\s*=\s*\"[^\"$]+\""),
    re.compile(r"AIza[0-9A-Za-z_-]{35}"),  # Google API key
)


def test_no_secret_values_in_code() -> None:
    files = [*INFRA.rglob("*.tf"), *INFRA.rglob("*.tfvars"), *INFRA.rglob("*.hcl")]
    for path in files:
        if ".terraform" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in SECRET_PATTERNS:
            assert not pattern.search(text), (
                f"{path.relative_to(INFRA)} looks like it holds a secret ({pattern.pattern})"
            )
    for directory in [*TF_ROOTS, *_module_dirs()]:
        types = {rtype for rtype, _, _ in _resources(directory)}
        assert "aws_secretsmanager_secret_version" not in types, (
            "secret values are filled by hand, never by Terraform"
        )


# ---- checkov --------------------------------------------------------------------------------------
def test_checkov_skips_are_justified() -> None:
    skip = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(:(.*))?")
    for path in _all_tf_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            match = skip.search(line)
            if match:
                assert re.fullmatch(r"CKV2?_AWS_\d+", match.group(1)), line
                reason = (match.group(3) or "").strip()
                assert len(reason) >= 20, (
                    f"{path.relative_to(INFRA)}: checkov skip without a real reason: {line.strip()}"
                )


def test_checkov_passes() -> None:
    checkov = Path(sys.executable).parent / "checkov"
    if not checkov.exists():
        pytest.fail(f"checkov is not installed next to {sys.executable} (it is in requirements.txt)")
    env = {
        **os.environ,
        "BC_SKIP_MAPPING": "TRUE",
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
        "LOG_LEVEL": "ERROR",
    }
    result = subprocess.run(
        [str(checkov), "-d", str(INFRA), "--quiet", "--compact", "--framework", "terraform"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=ROOT,
        check=False,
    )
    summary = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", result.stdout)
    assert summary, f"no checkov summary:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0 and summary.group(2) == "0", f"checkov failed:\n{result.stdout[-6000:]}"
    assert int(summary.group(1)) > 100, "checkov scanned suspiciously little"


# ---- terraform itself (when installed) ------------------------------------------------------------
def _terraform() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not installed here (CI runs fmt/validate in .github/workflows/ci.yml)")
    return binary


def test_terraform_fmt() -> None:
    result = subprocess.run(
        [_terraform(), "fmt", "-check", "-recursive", "-diff"],
        cwd=INFRA,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}"


def _plugin_mirror() -> Path:
    mirror = Path(os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
    if not (mirror / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip("no local provider mirror (set TF_PLUGIN_MIRROR); CI validates with the registry")
    return mirror


@pytest.mark.parametrize("directory", TF_ROOTS, ids=lambda p: p.name)
def test_terraform_validate(directory: Path, tmp_path: Path) -> None:
    terraform = _terraform()
    mirror = _plugin_mirror()
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_DATA_DIR": str(tmp_path / "tfdata"),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    init = subprocess.run(
        [terraform, "init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    validate = subprocess.run(
        [terraform, "validate", "-no-color"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
