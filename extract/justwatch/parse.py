"""Pure mapping of a ``GetNewTitles`` response page to raw title records and quarantine entries.

No I/O here. A node that does not validate becomes a :class:`QuarantineRecord` (reason + raw payload)
while the rest of the page loads; a page whose envelope is broken raises :class:`ResponseShapeError`.

"Validates" means the response models *and* the edge rules of ``raw_justwatch.titles`` in
``core.raw_spec`` (the same contract the staging models' dbt tests check): a record that would fail
a staging test is quarantined here, so one bad node never stops the day's good ones from publishing.
A list item breaking its child table's rule (a genre or production country that is blank, a credit without
a name, an offer without a package) is left out of the record and quarantined on its own, with its reason
(``<list>[<index>].<rule>``) and the item as payload; the node itself loads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from core import raw_spec
from extract.justwatch.models import (
    CreditRecord,
    NewOffer,
    NewTitlesConnection,
    Offer,
    OfferRecord,
    QuarantineRecord,
    TitleNode,
    TitleRecord,
)
from extract.justwatch.settings import OBJECT_TYPES, SOURCE_NAME

ID_PREFIXES = {"MOVIE": "tm", "SHOW": "ts", "SHOW_SEASON": "tss"}


class ResponseShapeError(ValueError):
    """The response is not a ``newTitles`` connection (no ``data.newTitles`` or a broken envelope)."""


@dataclass
class ParsedPage:
    records: list[TitleRecord] = field(default_factory=list)
    quarantine: list[QuarantineRecord] = field(default_factory=list)
    item_quarantine: list[QuarantineRecord] = field(default_factory=list)  # list items left out of records
    nodes_seen: int = 0
    filtered_out: int = 0
    total_count: int | None = None
    end_cursor: str | None = None
    has_next_page: bool = False

    def add(self, result: TitleRecord | QuarantineRecord, wanted: set[str]) -> bool:
        """Count one parsed edge: quarantined, filtered out (not a ``wanted`` type), or kept (True)."""
        self.nodes_seen += 1
        if isinstance(result, QuarantineRecord):
            self.quarantine.append(result)
        elif wanted and result.object_type not in wanted:
            self.filtered_out += 1
        else:
            self.records.append(result)
            return True
        return False


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def quarantine_entry(
    payload: Any,
    reason: str,
    *,
    as_of: date,
    quarantined_at: datetime,
    entity_id: str | None = None,
    source: str = SOURCE_NAME,
) -> QuarantineRecord:
    text = payload if isinstance(payload, str) else canonical_json(payload)
    # keyed by source + payload: the same bad record quarantined twice stays one row
    return QuarantineRecord.keyed(
        [source, text],
        source=source,
        entity_id=entity_id,
        reason=reason,
        payload=text,
        as_of=as_of,
        quarantined_at=quarantined_at,
    )


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        loc = ".".join(str(p) for p in error.get("loc", ())) or "node"
        parts.append(f"{loc}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def _unique(values: Iterable[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return list(seen)


def dedupe_offers(offers: Sequence[Offer] | None) -> list[OfferRecord]:
    """One row per (monetization, presentation, package); first occurrence wins, order kept."""
    result: dict[tuple[Any, ...], OfferRecord] = {}
    for offer in offers or []:
        package = offer.package
        record = OfferRecord(
            monetization_type=offer.monetization_type,
            presentation_type=offer.presentation_type,
            package_clear_name=package.clear_name if package else None,
            package_short_name=package.short_name if package else None,
        )
        key = (
            record.monetization_type,
            record.presentation_type,
            record.package_short_name,
            record.package_clear_name,
        )
        result.setdefault(key, record)
    return list(result.values())


def new_offer_package(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return None
    try:
        offer = NewOffer.model_validate(raw)
    except ValidationError:
        return None
    return offer.package.clear_name if offer.package else None


def check_node(node: TitleNode) -> str | None:
    """Business checks beyond the schema; returns the reason a node is unusable, or None."""
    if node.object_type not in OBJECT_TYPES:
        return f"unsupported objectType {node.object_type!r} (expected one of {', '.join(OBJECT_TYPES)})"
    prefix = ID_PREFIXES[node.object_type]
    if not node.id.startswith(prefix) or (node.object_type == "SHOW" and node.id.startswith("tss")):
        return f"id {node.id!r} does not match objectType {node.object_type} (expected prefix {prefix!r})"
    if node.object_type == "SHOW_SEASON" and node.show is None:
        return "season without its parent show (node.show is missing)"
    return None


@dataclass(frozen=True)
class BrokenItem:
    """A child-list item left out of its record: the list, its index, the item and the rules it breaks."""

    field_name: str
    index: int
    item: dict[str, Any]
    reasons: tuple[str, ...]

    def reason(self) -> str:
        rules = "; ".join(f"{self.field_name}[{self.index}].{r}" for r in self.reasons)
        return f"list item breaks the {raw_spec.TITLES.relation}__{self.field_name} contract: {rules}"


def _split_items(field_name: str, items: list[Any], as_of: date) -> tuple[list[Any], list[BrokenItem]]:
    """The items of a child list that pass its child table's edge rules, and those that break one."""
    child = raw_spec.TITLES.child(field_name)
    kept: list[Any] = []
    broken: list[BrokenItem] = []
    for index, item in enumerate(items):
        row = item.model_dump() if isinstance(item, BaseModel) else {"value": item}
        reasons = raw_spec.violations(child, row, as_of)
        if reasons:
            broken.append(BrokenItem(field_name, index, row, tuple(reasons)))
        else:
            kept.append(item)
    return kept, broken


def contract_violations(record: TitleRecord, as_of: date) -> list[str]:
    """The ``raw_justwatch.titles`` edge rules ``record`` breaks (empty when it may be loaded)."""
    return raw_spec.violations(raw_spec.TITLES, record.model_dump(), as_of)


def _id_fields(ids: Any, prefix: str = "") -> dict[str, Any]:
    return {
        f"{prefix}imdb_id": ids.imdb_id if ids else None,
        f"{prefix}tmdb_id": ids.tmdb_id if ids else None,
    }


def _score_fields(scoring: Any) -> dict[str, Any]:
    return {
        "imdb_score": scoring.imdb_score if scoring else None,
        "tomato_meter": scoring.tomato_meter if scoring else None,
    }


def _show_fields(show: Any) -> dict[str, Any]:
    """The parent show's columns of a season (all None for a movie or a show)."""
    content = show.content if show else None
    return {
        "show_id": show.id if show else None,
        "show_title": content.title if content else None,
        "show_full_path": content.full_path if content else None,
        **_id_fields(content.external_ids if content else None, prefix="show_"),
    }


def _child_lists(node: TitleNode) -> dict[str, list[Any]]:
    """The child lists (genres, countries, credits, offers), deduplicated; blank items kept (to be judged)."""
    content = node.content
    credits = [
        CreditRecord(role=c.role, name=c.name, character_name=c.character_name) for c in content.credits or []
    ]
    return {
        "genres": _unique_or_blank(g.short_name for g in content.genres or []),
        "production_countries": _unique_or_blank(content.production_countries or []),
        "credits": credits,
        "offers": dedupe_offers(node.offers),
    }


def _unique_or_blank(values: Iterable[str | None]) -> list[str | None]:
    """Distinct values in order; blank ones stay (once) so the edge rules can quarantine them."""
    items = list(values)
    blanks = [v for v in items if not (isinstance(v, str) and v.strip())]
    return [*_unique(v for v in items if isinstance(v, str) and v.strip()), *blanks[:1]]


def _child_fields(node: TitleNode, as_of: date) -> tuple[dict[str, list[Any]], list[BrokenItem]]:
    """The child lists without items breaking their rules, and those items."""
    fields: dict[str, list[Any]] = {}
    broken: list[BrokenItem] = []
    for name, items in _child_lists(node).items():
        fields[name], dropped = _split_items(name, items, as_of)
        broken += dropped
    return fields, broken


def node_to_record(
    node: TitleNode,
    *,
    new_offer: Any,
    day: date,
    country: str,
    extracted_at: datetime,
    as_of: date | None = None,
    broken: list[BrokenItem] | None = None,
) -> TitleRecord:
    """The node as a raw record; list items breaking their rules are left out (and added to ``broken``)."""
    content = node.content
    children, dropped = _child_fields(node, as_of or day)
    if broken is not None:
        broken += dropped
    return TitleRecord(
        id=node.id,
        object_type=node.object_type,  # type: ignore[arg-type]  # checked by check_node
        object_id=node.object_id,
        title=content.title,
        original_title=content.original_title,
        original_release_year=content.original_release_year,
        original_release_date=content.original_release_date,
        runtime_minutes=content.runtime,
        short_description=content.short_description,
        age_certification=content.age_certification,
        full_path=content.full_path,
        original_language=None,  # JustWatch's newTitles content exposes no original-language field
        season_number=content.season_number if node.object_type == "SHOW_SEASON" else None,
        country=country,
        new_since=day,
        new_offer_package=new_offer_package(new_offer),
        extracted_at=extracted_at,
        **_id_fields(content.external_ids),
        **_score_fields(content.scoring),
        **_show_fields(node.show),
        **children,
    )


def _node_of(raw_edge: Any) -> TitleNode | str:
    """The edge's validated node, or why it has none that may become a record."""
    if not isinstance(raw_edge, dict):
        return "edge is not an object"
    raw_node = raw_edge.get("node")
    if not isinstance(raw_node, dict):
        return "edge has no node object"
    try:
        node = TitleNode.model_validate(raw_node)
    except ValidationError as exc:
        return f"invalid node: {describe_validation_error(exc)}"
    return check_node(node) or node


def _entity_id(raw_edge: Any) -> str | None:
    raw_node = raw_edge.get("node") if isinstance(raw_edge, dict) else None
    node_id = raw_node.get("id") if isinstance(raw_node, dict) else None
    return node_id if isinstance(node_id, str) else None


def parse_edge(
    raw_edge: Any,
    *,
    day: date,
    country: str,
    as_of: date,
    extracted_at: datetime,
) -> TitleRecord | QuarantineRecord:
    """One edge -> a title record, or a quarantine entry saying why it cannot be one."""
    return parse_edge_items(raw_edge, day=day, country=country, as_of=as_of, extracted_at=extracted_at)[0]


def item_quarantine(
    record: TitleRecord, broken: Sequence[BrokenItem], *, as_of: date, quarantined_at: datetime
) -> list[QuarantineRecord]:
    """One quarantine entry per list item left out of ``record`` (keyed by node, country, list and item)."""
    return [
        quarantine_entry(
            {
                "node_id": record.id,
                "country": record.country,
                "list": item.field_name,
                "index": item.index,
                "item": item.item,
            },
            item.reason(),
            as_of=as_of,
            quarantined_at=quarantined_at,
            entity_id=record.id,
        )
        for item in broken
    ]


def parse_edge_items(
    raw_edge: Any,
    *,
    day: date,
    country: str,
    as_of: date,
    extracted_at: datetime,
) -> tuple[TitleRecord | QuarantineRecord, list[QuarantineRecord]]:
    """:func:`parse_edge` plus the quarantine entries of the list items its record left out."""
    found: TitleNode | TitleRecord | str = _node_of(raw_edge)
    broken: list[BrokenItem] = []
    if isinstance(found, TitleNode):
        try:
            record = node_to_record(
                found,
                new_offer=raw_edge.get("newOffer"),
                day=day,
                country=country,
                extracted_at=extracted_at,
                as_of=as_of,
                broken=broken,
            )
        except ValidationError as exc:
            found = f"invalid record: {describe_validation_error(exc)}"
        else:
            violated = contract_violations(record, as_of)
            found = (
                f"breaks the {raw_spec.TITLES.relation} contract: {'; '.join(violated)}"
                if violated
                else record
            )
    if isinstance(found, str):
        # the listing country is part of the payload (and so of the key): the same bad node in two countries
        # is quarantined once per country
        payload = (
            {"country": country, **{k: v for k, v in raw_edge.items() if k != "cursor"}}
            if isinstance(raw_edge, dict)
            else {"country": country, "edge": raw_edge}
        )
        entry = quarantine_entry(
            payload, found, as_of=as_of, quarantined_at=extracted_at, entity_id=_entity_id(raw_edge)
        )
        return entry, []
    return found, item_quarantine(found, broken, as_of=as_of, quarantined_at=extracted_at)


def _connection(response: Any) -> tuple[dict[str, Any], NewTitlesConnection]:
    """The raw ``data.newTitles`` object and its validated form; ResponseShapeError when it is neither."""
    data = response.get("data") if isinstance(response, dict) else None
    connection_raw = data.get("newTitles") if isinstance(data, dict) else None
    if not isinstance(connection_raw, dict):
        raise ResponseShapeError("response has no data.newTitles object")
    edges = [e if isinstance(e, dict) else {"node": e} for e in connection_raw.get("edges") or []]
    try:
        return connection_raw, NewTitlesConnection.model_validate({**connection_raw, "edges": edges})
    except ValidationError as exc:
        raise ResponseShapeError(f"malformed newTitles connection: {describe_validation_error(exc)}") from exc


def parse_new_titles_page(
    response: Any,
    *,
    day: date,
    country: str,
    as_of: date,
    extracted_at: datetime,
    object_types: Sequence[str] = (),
) -> ParsedPage:
    """Map one ``GetNewTitles`` response to records; ``object_types`` (if given) keeps only those types."""
    connection_raw, connection = _connection(response)
    page = ParsedPage(
        total_count=connection.total_count,
        end_cursor=connection.page_info.end_cursor,
        has_next_page=connection.page_info.has_next_page,
    )
    wanted = set(object_types)
    for raw_edge in connection_raw.get("edges") or []:
        result, items = parse_edge_items(
            raw_edge, day=day, country=country, as_of=as_of, extracted_at=extracted_at
        )
        if page.add(result, wanted):
            page.item_quarantine += items
    return page
