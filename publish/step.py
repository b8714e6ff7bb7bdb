"""The publish steps, after the Great Expectations gate passed: swap the audited mart into the published
table (write-audit-publish), export it to Parquet, snapshot the export with DVC."""

from __future__ import annotations

from core import step_names
from core.context import RunContext, StepResult
from core.dbt_runner import PUBLISHED_MODEL, SELECT_PUBLISH, build
from core.mart_schema import AUDIT_TABLE, MART_TABLE, MartSchemaError, read_mart_rows, rows_to_arrow
from core.remote import Remote, remote_name
from publish.export import ExportError, export_path, export_table, fetch_staged_export, stage_export
from publish.snapshot import Pointer, SnapshotError, export_dir, open_repo, publish_manifest, remote_has

EXPORT_STEP = step_names.EXPORT_PARQUET
SNAPSHOT_STEP = step_names.SNAPSHOT_DVC


def publish_mart(ctx: RunContext) -> StepResult:
    """Publish the audited mart (write-audit-publish): runs only after ``dbt_marts`` and the gate passed.

    ``changed_rows`` counts the audited rows that are new or differ from the published version (by id and
    ``data_ingestion_timestamp``, which moves exactly when a row's content changes).
    """
    changed = _changed_rows(ctx, AUDIT_TABLE, MART_TABLE)
    result = build(ctx, SELECT_PUBLISH, step_names.PUBLISH_MART)
    result.details["changed_rows"] = changed
    ctx.progress(f"published {PUBLISHED_MODEL}: {changed} new or changed row(s)")
    return result


def _changed_rows(ctx: RunContext, audit: str, published: str) -> int | None:
    if not ctx.warehouse.table_exists(*audit.split(".", 1)):
        return 0  # nothing audited: dbt reports the missing relation
    if not ctx.warehouse.table_exists(*published.split(".", 1)):
        return _count(ctx, audit)  # the first publication: every row is new
    # constant identifiers from mart_schema, no user input
    sql = (
        f"select count(*) as n from {audit} a left join {published} p "  # nosec B608  # constant identifiers: mart_schema
        "on a.id = p.id and a.data_ingestion_timestamp = p.data_ingestion_timestamp where p.id is null"
    )
    return int(ctx.warehouse.fetch_all(sql)[0]["n"])


def _count(ctx: RunContext, table: str) -> int:
    return int(ctx.warehouse.fetch_all(f"select count(*) as n from {table}")[0]["n"])  # nosec B608  # constant identifiers: mart_schema


def export_parquet(ctx: RunContext, remote: Remote) -> StepResult:
    """The published mart as the day's Parquet file, staged on the shared remote for the snapshot step."""
    try:
        rows = read_mart_rows(ctx.warehouse)
        table = rows_to_arrow(rows)
    except MartSchemaError as exc:
        raise ExportError(str(exc)) from exc
    path = export_path(ctx.settings.path("export.dir"), ctx.as_of)
    written = export_table(table, path)
    written["staged"] = stage_export(remote, path, written["md5"])
    ctx.progress(
        f"exported {written['rows']} rows to {path} ({'changed' if written['changed'] else 'unchanged'})"
    )
    return StepResult(step=EXPORT_STEP, rows_in=len(rows), rows_out=written["rows"], details=written)


def snapshot(ctx: RunContext, remote: Remote) -> StepResult:
    """``dvc add`` the day's export, push it, and publish its pointer file as the day's manifest."""
    settings = ctx.settings
    directory = export_dir(settings)
    data_file = export_path(directory, ctx.as_of)
    try:
        staged_md5 = fetch_staged_export(remote, data_file)
    except ExportError as exc:
        raise SnapshotError(f"{exc}: run the export step for {ctx.as_of} first") from exc
    with open_repo(settings) as repo:
        try:
            repo.add([str(data_file)])
            pushed = repo.push(targets=[str(data_file) + ".dvc"], remote=remote_name(settings))
        except Exception as exc:
            raise SnapshotError(
                f"DVC could not snapshot {data_file.name} to the {remote_name(settings)} remote: {exc}"
            ) from exc
        pointer_file = data_file.with_name(data_file.name + ".dvc")
        pointer = Pointer.parse(pointer_file.read_text(encoding="utf-8"), str(pointer_file))
        if pointer.md5 != staged_md5:
            raise SnapshotError(
                f"DVC recorded md5 {pointer.md5} for {data_file.name}, the export {staged_md5}"
            )
        if not remote_has(repo, settings, pointer.md5):
            raise SnapshotError(f"after push, the {remote_name(settings)} remote does not hold {pointer.md5}")
        manifest = publish_manifest(repo, settings, pointer_file)
    ctx.progress(f"snapshot {data_file.name} md5 {pointer.md5} pushed to {remote_name(settings)}")
    return StepResult(
        step=SNAPSHOT_STEP,
        rows_in=1,
        rows_out=1,
        details={
            "file": str(data_file),
            "pointer": str(pointer_file),
            "md5": pointer.md5,
            "size": pointer.size,
            "remote": remote_name(settings),
            "files_pushed": int(pushed or 0),
            "manifest": manifest,
        },
    )
