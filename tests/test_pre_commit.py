""".pre-commit-config.yaml: local hooks only, each running a tool of the project's venv, each passing on
the committed tree (the files it would be given), so `pre-commit install` downloads nothing and a clean
checkout commits cleanly."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from core.config import PROJECT_ROOT
from scripts.mwaa_bundle import project_packages

CONFIG = yaml.safe_load((PROJECT_ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
HOOKS = [hook for repo in CONFIG["repos"] for hook in repo["hooks"]]


def test_hooks_are_local_and_use_the_venv() -> None:
    assert [repo["repo"] for repo in CONFIG["repos"]] == ["local"], "no hook is downloaded"
    assert {h["id"] for h in HOOKS} >= {"ruff", "ruff-format", "sqlfluff", "raw-spec"}
    for hook in HOOKS:
        assert hook["language"] == "system", hook["id"]
        tool = PROJECT_ROOT / shlex.split(hook["entry"])[0]
        assert tool.is_relative_to(PROJECT_ROOT / ".venv" / "bin") and tool.exists(), hook["entry"]


def _files(hook: dict) -> list[str]:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    pattern = re.compile(hook.get("files", ""))
    types = set(hook.get("types_or", []))
    files = [f for f in tracked.stdout.splitlines() if pattern.search(f) and (PROJECT_ROOT / f).is_file()]
    if types:
        files = [
            f for f in files if Path(f).suffix.lstrip(".") in {"py" if t == "python" else t for t in types}
        ]
    return files


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h["id"])
def test_hook_passes_on_the_committed_tree(hook: dict) -> None:
    files = _files(hook)
    assert files, f"{hook['id']} matches no file"
    if hook["id"] == "sqlfluff":
        files = files[:3]  # the hook gets the staged models; make lint lints them all
    if hook["id"] == "ruff-format":  # formatted as a file is changed; make lint holds the packages formatted
        packages = tuple(f"{p}/" for p in project_packages())
        files = [f for f in files if f.startswith(packages)]
    args = [*shlex.split(hook["entry"]), *([] if hook.get("pass_filenames") is False else files)]
    result = subprocess.run(args, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{hook['id']}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
