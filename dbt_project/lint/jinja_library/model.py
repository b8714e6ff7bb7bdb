"""`{{ model }}` as sqlfluff's jinja templater renders it: the published mart lists its columns from its own
contract (`model.columns`), so the linter reads the same contract (models/marts/_marts__models.yml).
It is never used by dbt itself.
"""

from pathlib import Path

import yaml

_CONTRACT = Path(__file__).resolve().parents[2] / "models" / "marts" / "_marts__models.yml"
_MODELS = yaml.safe_load(_CONTRACT.read_text(encoding="utf-8"))["models"]

columns = {c["name"]: c for c in next(m for m in _MODELS if m["name"] == "movies_tv_shows_enriched")["columns"]}
