"""Configuration: ``config/base.yaml`` <- ``config/<APP_ENV>.yaml`` <- ``TRENDING_NOW__<SECTION>__<KEY>``.

Secrets are kept apart from settings: in dev they come from ``.env`` (and the process environment),
in staging/prod from one JSON secret in AWS Secrets Manager. A :class:`Secrets` object never prints
its values, so a config can be logged safely.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from dotenv import dotenv_values

if TYPE_CHECKING:
    from core.settings_schema import AppSettings

ENV_PREFIX = "TRENDING_NOW__"
APP_ENVS = ("dev", "staging", "prod")
# Every secret the project reads, in one place: loaded from .env / the environment (dev) or the AWS secret,
# scrubbed from errors and webhooks, registered with Airflow's masker.
SECRET_NAMES = ("GEMINI_API_KEY", "TMDB_API_KEY", "GUARDIAN_API_KEY", "REDSHIFT_PASSWORD", "PGPASSWORD")
# libpq's standard variables: honoured from the process environment and, in dev, from .env (the environment wins).
PG_ENV_NAMES = ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The configuration cannot be loaded; the message names the file or key at fault."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in; nested mappings merge, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_env_value(raw: str) -> Any:
    """Parse an override the way YAML would (``5`` -> int, ``true`` -> bool, ``[a, b]`` -> list)."""
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``TRENDING_NOW__ENRICH__MAX_COST_USD=2`` -> ``{"enrich": {"max_cost_usd": 2}}``."""
    result: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{name}: conflicts with another override of {part!r}")
        node[path[-1]] = parse_env_value(raw)
    return result


# libyaml's parser when PyYAML was built with it (the wheels are): the same safe subset, several times faster
# than the pure-Python one. The settings are read by every parse of the DAG file, in every Airflow task.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def validated(data: Mapping[str, Any]) -> AppSettings:
    """The merged settings as their typed models; :class:`ConfigError` names the first key at fault."""
    from pydantic import ValidationError  # noqa: PLC0415 - with the schema

    from core.settings_schema import AppSettings, first_error  # noqa: PLC0415 - the schema reads core.countries, which reads this module

    try:
        return AppSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(first_error(exc)) from exc


def read_dotenv(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


SHORTEST_SCRUBBED_SECRET = 4  # a shorter value would scrub ordinary words out of logs


class Secrets:
    """Secret values by name. ``repr``/``str`` never show values; ``get`` does."""

    def __init__(self, values: Mapping[str, str] | None = None, source: str = "none") -> None:
        self._values = {k: v for k, v in (values or {}).items() if v}
        self.source = source

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._values.get(name, default)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def names(self) -> list[str]:
        return sorted(self._values)

    def values(self) -> list[str]:
        """The raw values, for scrubbing them out of logs and reports."""
        return [v for v in self._values.values() if len(v) >= SHORTEST_SCRUBBED_SECRET]

    def __repr__(self) -> str:
        return f"Secrets(source={self.source!r}, names={self.names()!r})"

    __str__ = __repr__


def load_aws_secrets(secret_id: str, region: str, endpoint_url: str | None = None) -> dict[str, str]:
    """Read one JSON secret from AWS Secrets Manager (``{"GEMINI_API_KEY": "...", ...}``)."""
    import boto3  # noqa: PLC0415 - AWS only where secrets live there (staging, prod)
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - with boto3

    client = boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint_url)
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(f"cannot read secret {secret_id!r} from AWS Secrets Manager: {exc}") from exc
    raw = response.get("SecretString") or ""
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"secret {secret_id!r} is not a JSON object") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"secret {secret_id!r} is not a JSON object")
    return {str(k): str(v) for k, v in data.items() if v not in (None, "")}


@dataclass
class Settings:
    """Merged settings plus secrets. Read values with ``settings.get("enrich.model")``."""

    data: dict[str, Any]
    env: str = "dev"
    secrets: Secrets = field(default_factory=Secrets)
    root: Path = PROJECT_ROOT
    # Non-secret standard variables (PG_ENV_NAMES) found in .env; the process environment takes precedence.
    dotenv_defaults: dict[str, str] = field(default_factory=dict)

    @cached_property
    def typed(self) -> AppSettings:
        """Every section as its pydantic model (core.settings_schema), validated."""
        return validated(self.data)

    def typed_at(self, dotted: str) -> Any:
        """The typed, validated value of a key a caller names (``run.deploy_lock_timeout_s``): ``typed``'s
        field at that path (an unknown key is an AttributeError: a caller's mistake, not a setting's)."""
        node: Any = self.typed
        for part in dotted.split("."):
            node = getattr(node, part)
        return node

    def environ(self, name: str) -> str | None:
        """A standard variable (``PGHOST``...): the process environment, else ``.env`` (dev)."""
        return os.environ.get(name) or self.dotenv_defaults.get(name)

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return default if node is None else node

    def require(self, dotted: str) -> Any:
        value = self.get(dotted)
        if value in (None, ""):
            raise ConfigError(
                f"missing setting {dotted!r}: set it in config/{self.env}.yaml or as "
                f"{ENV_PREFIX}{dotted.upper().replace('.', '__')}"
            )
        return value

    def section(self, name: str) -> dict[str, Any]:
        value = self.get(name, {})
        return dict(value) if isinstance(value, Mapping) else {}

    def path(self, dotted: str) -> Path:
        """A path setting, resolved against the project root when relative."""
        value = Path(str(self.require(dotted))).expanduser()
        return value if value.is_absolute() else self.root / value

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """A copy with dotted-key overrides applied (``{"warehouse.target": "postgres"}``)."""
        nested: dict[str, Any] = {}
        for dotted, value in overrides.items():
            node = nested
            parts = dotted.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        merged = Settings(
            deep_merge(self.data, nested), self.env, self.secrets, self.root, self.dotenv_defaults
        )
        _ = merged.typed  # an override of the wrong type fails here, naming its key
        return merged


def project_root(environ: Mapping[str, str] | None = None) -> Path:
    """The project's root: ``$TRENDING_NOW_ROOT`` (a deployed copy, an MWAA worker's DAG folder), else this
    checkout."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("TRENDING_NOW_ROOT") or PROJECT_ROOT)


def _merged_config(
    app_env: str | None, root: Path | None, environ: Mapping[str, str]
) -> tuple[dict[str, Any], str, Path]:
    """``base.yaml`` <- ``<APP_ENV>.yaml`` <- ``TRENDING_NOW__...``: the data, the env name and the root."""
    root = Path(root) if root else project_root(environ)
    env = (app_env or environ.get("APP_ENV") or "dev").lower()
    if env not in APP_ENVS:
        raise ConfigError(f"APP_ENV={env!r} is not one of {', '.join(APP_ENVS)}")
    config_dir = root / "config"
    base_file = config_dir / "base.yaml"
    if not base_file.exists():
        raise ConfigError(f"{base_file} not found")
    data = deep_merge(read_yaml(base_file), read_yaml(config_dir / f"{env}.yaml"))
    return deep_merge(data, env_overrides(environ)), env, root


def parse_settings(
    app_env: str | None = None,
    *,
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The settings without secrets: cheap and safe where no secret may be read (Airflow DAG parsing)."""
    data, env, root = _merged_config(app_env, root, os.environ if environ is None else environ)
    settings = Settings(data=data, env=env, root=root)
    _ = settings.typed  # a wrong type or an unknown key fails the load, naming the key
    return settings


def _dotenv_secrets(root: Path, environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Secrets from .env then the environment, and the non-secret PG* defaults found in .env."""
    dotenv = read_dotenv(root / ".env")
    found = {name: value for name, value in dotenv.items() if name not in PG_ENV_NAMES}
    found.update({name: environ[name] for name in SECRET_NAMES if environ.get(name)})
    return found, {name: dotenv[name] for name in PG_ENV_NAMES if dotenv.get(name)}


def _aws_secrets(data: Mapping[str, Any]) -> dict[str, str]:
    secret_id = (data.get("secrets") or {}).get("aws_secret_id")
    if not secret_id:
        raise ConfigError("secrets.source is 'aws' but secrets.aws_secret_id is not set")
    aws = data.get("aws") or {}
    return load_aws_secrets(secret_id, aws.get("region") or "us-east-1", aws.get("endpoint_url"))


def _read_secrets(
    data: Mapping[str, Any], root: Path, environ: Mapping[str, str]
) -> tuple[Secrets, dict[str, str]]:
    """The secrets (from .env + environment, or AWS) and the non-secret PG* defaults found in .env."""
    source = str((data.get("secrets") or {}).get("source") or "dotenv")
    if source == "dotenv":
        found, dotenv_defaults = _dotenv_secrets(root, environ)
    elif source == "aws":
        found, dotenv_defaults = dict(_aws_secrets(data)), {}
    else:
        raise ConfigError(f"secrets.source={source!r} is not 'dotenv' or 'aws'")
    return Secrets(found, source), dotenv_defaults


def load_settings(
    app_env: str | None = None,
    *,
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load settings for ``app_env`` (default ``$APP_ENV`` or ``dev``), secrets included."""
    environ = os.environ if environ is None else environ
    settings = parse_settings(app_env, root=root, environ=environ)
    secrets, dotenv_defaults = _read_secrets(settings.data, settings.root, environ)
    settings.secrets, settings.dotenv_defaults = secrets, dotenv_defaults
    return settings
