"""Write the GB recorded-format samples (data/samples/justwatch/gb_*) from the US ones, and their routes.

    .venv/bin/python scripts/build_country_samples.py

GB lists about two thirds of the US titles of each day (every third one is US-only), in one page per day,
with UK paths (``/uk/…``), prices in GBP and the UK's services where the US ones do not exist there
(Hulu -> Disney Plus, HBO Max -> Sky Go, Peacock -> NOW). One GB credit has no name: a list item that
breaks the ``titles__credits`` rule, which the extractor quarantines on its own while the title loads.
The output is committed; re-run this only when the US samples change.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples" / "justwatch"
COUNTRY = "GB"
UK_PACKAGES: dict[str, dict[str, Any]] = {  # US short name -> the UK service that carries it
    "hlu": {"packageId": 337, "clearName": "Disney Plus", "shortName": "dnp", "technicalName": "disneyplus"},
    "mxx": {"packageId": 29, "clearName": "Sky Go", "shortName": "skg", "technicalName": "skygo"},
    "pct": {"packageId": 39, "clearName": "NOW", "shortName": "ntv", "technicalName": "nowtv"},
}
BROKEN_CREDIT_TITLE = "tm1522890"  # Superman: its GB listing carries a credit without a name


def _package(package: dict[str, Any]) -> dict[str, Any]:
    short = package.get("shortName")
    if short not in UK_PACKAGES:
        return package
    uk = UK_PACKAGES[short]
    return {**package, **uk, "id": base64.b64encode(f"pa|{uk['packageId']}".encode()).decode()}


def _offer(offer: dict[str, Any] | None) -> dict[str, Any] | None:
    if not offer:
        return offer
    out = {**offer, "currency": "GBP", "package": _package(offer["package"])}
    if isinstance(out.get("retailPrice"), str):
        out["retailPrice"] = out["retailPrice"].replace("$", "£")
    return out


def _uk_path(path: Any) -> Any:
    return path.replace("/us/", "/uk/", 1) if isinstance(path, str) else path


def _to_uk(node: dict[str, Any], content: dict[str, Any]) -> None:
    """The node's, its show's and its offers' paths and prices as listed in the UK (in place)."""
    content["fullPath"] = _uk_path(content.get("fullPath"))
    node["offers"] = [_offer(o) for o in node.get("offers") or []]
    show = node.get("show")
    if show and show.get("content"):
        show["content"]["fullPath"] = _uk_path(show["content"].get("fullPath"))


def gb_edge(edge: dict[str, Any]) -> dict[str, Any]:
    """The US edge as JustWatch lists it in the UK (without its cursor: set by position)."""
    out = copy.deepcopy({k: v for k, v in edge.items() if k != "cursor"})
    out["newOffer"] = _offer(out.get("newOffer"))
    node = out.get("node") or {}
    content = node.get("content") or {}
    _to_uk(node, content)
    if node.get("id") == BROKEN_CREDIT_TITLE and content.get("credits"):
        content["credits"].append(
            {
                "__typename": "Credit",
                "role": "ACTOR",
                "name": None,
                "characterName": "Jimmy Olsen",
                "personId": 0,
            }
        )
    return out


def us_days() -> dict[str, list[dict[str, Any]]]:
    """The US edges of each day, pages joined in order."""
    days: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(SAMPLES.glob("new_titles_*_p*.json")):
        day = path.name.split("_")[2]
        body = json.loads(path.read_text(encoding="utf-8"))
        days.setdefault(day, []).extend(body["data"]["newTitles"]["edges"])
    return days


def page(edges: list[dict[str, Any]]) -> dict[str, Any]:
    """One page holding every edge of the day, cursors by position as the service sets them."""
    served = [{**e, "cursor": base64.b64encode(str(i + 1).encode()).decode()} for i, e in enumerate(edges)]
    return {
        "data": {
            "newTitles": {
                "__typename": "NewTitlesConnection",
                "totalCount": len(served),
                "edges": served,
                "pageInfo": {
                    "__typename": "PageInfo",
                    "startCursor": served[0]["cursor"] if served else None,
                    "endCursor": served[-1]["cursor"] if served else None,
                    "hasNextPage": False,
                    "hasPreviousPage": False,
                },
            }
        }
    }


def main() -> int:
    routes_path = SAMPLES / "routes.json"
    routes = [
        r
        for r in json.loads(routes_path.read_text(encoding="utf-8"))
        if r.get("json", {}).get("variables", {}).get("country") != COUNTRY
    ]
    for day, edges in sorted(us_days().items()):
        listed = [gb_edge(e) for i, e in enumerate(edges) if i % 3 != 2]
        name = f"gb_new_titles_{day}_p1.json"
        (SAMPLES / name).write_text(
            json.dumps(page(listed), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        routes.append(
            {
                "method": "POST",
                "path": "/graphql",
                "json": {
                    "operationName": "GetNewTitles",
                    "variables": {"country": COUNTRY, "date": day, "after": None, "first": 100},
                },
                "status": 200,
                "body_file": name,
            }
        )
    routes_path.write_text(json.dumps(routes, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(routes)} routes to {routes_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
