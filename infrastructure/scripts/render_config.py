"""Write Terraform outputs into the application config of one environment.

Root outputs named after config keys (``warehouse__redshift__host`` for ``warehouse.redshift.host``,
``__`` for each dot) are written into ``config/<env>.yaml``; other outputs are ignored.

    terraform -chdir=infrastructure output -json > tf-outputs.json
    python infrastructure/scripts/render_config.py --outputs tf-outputs.json --config config/staging.yaml

Exit 0 when the file was written, 1 with a one-line cause otherwise (e.g. a required output is
missing or null).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

# The config keys CD must fill from Terraform (see infrastructure/README.md).
REQUIRED_KEYS: tuple[str, ...] = (
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


class RenderError(Exception):
    """The outputs cannot be rendered into the config."""


def output_name(config_key: str) -> str:
    """``warehouse.redshift.host`` -> ``warehouse__redshift__host``."""
    return config_key.replace(".", "__")


def config_key(output: str) -> str | None:
    """``warehouse__redshift__host`` -> ``warehouse.redshift.host``; None for non-config outputs."""
    if "__" not in output:
        return None
    return output.replace("__", ".")


def config_values(outputs: dict[str, Any]) -> dict[str, Any]:
    """Config key -> value from ``terraform output -json`` (``{"name": {"value": ..., ...}}``)."""
    values: dict[str, Any] = {}
    for name, body in outputs.items():
        key = config_key(name)
        if key is None:
            continue
        value = body.get("value") if isinstance(body, dict) else body
        values[key] = value
    missing = [k for k in REQUIRED_KEYS if values.get(k) in (None, "")]
    if missing:
        names = ", ".join(output_name(k) for k in missing)
        raise RenderError(f"Terraform outputs missing or empty: {names}")
    return values


def set_key(config: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts, creating the intermediate sections."""
    *parents, leaf = dotted.split(".")
    node = config
    for part in parents:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise RenderError(f"config key {part!r} of {dotted!r} is not a section")
        node = child
    node[leaf] = value


def render(outputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Return ``config`` with every config-key output written into it."""
    for key, value in sorted(config_values(outputs).items()):
        set_key(config, key, value)
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--outputs", required=True, type=Path, help="file written by `terraform output -json`"
    )
    parser.add_argument("--config", required=True, type=Path, help="config/<env>.yaml to update in place")
    args = parser.parse_args(argv)
    try:
        outputs = json.loads(args.outputs.read_text(encoding="utf-8"))
        config = yaml.safe_load(args.config.read_text(encoding="utf-8")) if args.config.exists() else {}
        rendered = render(outputs, config or {})
    except (OSError, json.JSONDecodeError, yaml.YAMLError, RenderError) as exc:
        print(f"render_config: {exc}", file=sys.stderr)
        return 1
    header = "# Rendered by infrastructure/scripts/render_config.py from `terraform output -json`.\n"
    args.config.write_text(header + yaml.safe_dump(rendered, sort_keys=False), encoding="utf-8")
    print(f"render_config: wrote {len(config_values(outputs))} keys into {args.config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
