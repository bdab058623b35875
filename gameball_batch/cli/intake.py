"""Intake commands: ``types``, ``template`` and ``validate`` (nothing is sent).

``validate FILE --type SLUG`` reads, maps and validates a file the same way the console
does, and exits 0 when every row is valid, 1 when some are not, 2 when the file cannot be
read or the command is used wrongly (the message goes to stderr, never a traceback).
``--json`` prints exactly one object: ``{"type", "rows", "valid", "invalid", "chunks",
"issues": [{"row", "column", "field", "value", "code", "message"}]}`` where ``row`` is the
spreadsheet row (header = 1).

This module must not send anything, touch the ledger or import streamlit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from gameball_batch.batch_types import BATCH_TYPES, BatchType

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
ISSUES_SHOWN = 20
DATE_ORDER_CHOICES = ("auto", "DMY", "MDY")


def register(group: click.Group) -> None:
    """Add ``types``, ``template`` and ``validate`` to the command group."""
    group.add_command(types_command)
    group.add_command(template_command)
    group.add_command(validate_command)


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _batch_type(slug: str) -> BatchType:
    if slug not in BATCH_TYPES:
        _fail(f"Unknown batch type '{slug}'. Choose one of: {', '.join(BATCH_TYPES)}.")
    return BATCH_TYPES[slug]


# --- types -----------------------------------------------------------------------------------


@click.command("types")
@click.option("--json", "as_json", is_flag=True, help="Print the types as JSON.")
def types_command(as_json: bool) -> None:
    """List the batch types, their endpoints and fields (* = required)."""
    if as_json:
        click.echo(json.dumps([_type_record(bt) for bt in BATCH_TYPES.values()], indent=2))
        return
    for bt in BATCH_TYPES.values():
        click.echo(f"{bt.slug}  —  {bt.title}  (POST {bt.path}, result key {bt.result_key})")
        fields = ", ".join(f.path + ("*" if f.required else "") for f in bt.fields)
        click.echo(f"  fields: {fields}")
        for prefix in bt.open_prefixes:
            click.echo(f"  free-form: {prefix}<key>")
        for group in bt.one_of:
            click.echo(f"  exactly one of: {', '.join(group)}")
        if bt.generated_key:
            click.echo(f"  {bt.generated_key} is generated when the file has none")
    click.echo("* = required")


def _type_record(bt: BatchType) -> dict[str, Any]:
    return {
        "slug": bt.slug,
        "title": bt.title,
        "endpoint": bt.path,
        "result_key": bt.result_key,
        "fields": [{"path": f.path, "label": f.label, "kind": str(f.kind),
                    "required": f.required} for f in bt.fields],
        "open_prefixes": list(bt.open_prefixes),
        "one_of": [list(g) for g in bt.one_of],
        "generated_key": bt.generated_key,
    }


# --- template --------------------------------------------------------------------------------


@click.command("template")
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of standard output.")
def template_command(slug: str, fmt: str, output: Path | None) -> None:
    """Write an example file for SLUG that validates cleanly."""
    from gameball_batch import templates

    data = templates.template_bytes(_batch_type(slug), fmt)
    if output is None:
        if fmt == "xlsx" and sys.stdout.isatty():
            _fail("An XLSX template is binary: give -o PATH or redirect standard output.")
        stream = click.get_binary_stream("stdout")
        stream.write(data)
        stream.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        _fail(f"Could not write {output}: {exc.strerror or exc}")
    click.echo(f"Wrote {output} ({fmt.upper()}, {len(data):,} bytes).", err=True)


# --- validate --------------------------------------------------------------------------------


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--type", "slug", required=True, help="Batch type: " + ", ".join(BATCH_TYPES))
@click.option("--sheet", help="Workbook sheet to read (default: the first visible one).")
@click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN",
              help="Say which column holds a field; repeat as needed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--date-order", type=click.Choice(DATE_ORDER_CHOICES), default="auto",
              show_default=True, help="How to read dates like 03/04/2026.")
def validate_command(
    file: Path, slug: str, sheet: str | None, maps: tuple[str, ...], as_json: bool,
    date_order: str,
) -> None:
    """Check FILE as a batch of type --type; nothing is sent."""
    bt = _batch_type(slug)
    result, plan_chunks = _validate_file(bt, file, sheet, maps, date_order)
    if as_json:
        click.echo(json.dumps(_json_report(bt, result, plan_chunks), ensure_ascii=False))
    else:
        _human_report(bt, result, plan_chunks)
    sys.exit(EXIT_OK if result.invalid_count == 0 else EXIT_INVALID)


def _validate_file(
    bt: BatchType, file: Path, sheet: str | None, maps: tuple[str, ...], date_order: str,
) -> tuple[Any, int]:
    """(ValidationResult, number of requests the valid rows need); exits 2 on bad input."""
    from gameball_batch import mapping, payloads, validate
    from gameball_batch.ingest import IngestError, read_table

    try:
        explicit = mapping.parse_map_options(list(maps))
    except ValueError as exc:
        _fail(str(exc))
    try:
        data = file.read_bytes()
    except OSError as exc:
        _fail(f"Could not read {file}: {exc.strerror or exc}")
    try:
        table = read_table(data, file.name, sheet=sheet)
    except IngestError as exc:
        _fail(str(exc))
    headers = [str(c) for c in table.frame.columns]
    chosen = {**mapping.suggest_mapping(bt, headers).mapping, **explicit}
    problems = mapping.mapping_problems(bt, chosen, headers)
    if problems:
        _fail("The columns cannot be mapped:\n  " + "\n  ".join(problems)
              + "\nUse --map FIELD=COLUMN to say which column holds a field.")
    mapped = mapping.apply_mapping(table.frame, chosen)
    result = validate.validate(bt, mapped, columns=chosen, id_seed=table.fingerprint,
                               date_order=date_order)
    return result, len(payloads.plan_chunks(result).chunks)


def _json_report(bt: BatchType, result: Any, chunks: int) -> dict[str, Any]:
    issues = [
        {"row": int(rec["row"]), "column": str(rec["column"]), "field": str(rec["field"]),
         "value": str(rec["value"]), "code": str(rec["code"]), "message": str(rec["message"])}
        for rec in result.issues.to_dict("records")
    ]
    return {"type": bt.slug, "rows": int(result.total_rows), "valid": int(result.valid_count),
            "invalid": int(result.invalid_count), "chunks": chunks, "issues": issues}


def _human_report(bt: BatchType, result: Any, chunks: int) -> None:
    click.echo(f"{bt.title}: {result.total_rows:,} rows, {result.valid_count:,} valid, "
               f"{result.invalid_count:,} invalid; the valid rows make {chunks:,} request(s).")
    for note in result.notes:
        click.echo(f"note: {note}")
    if len(result.warnings):
        click.echo(f"{len(result.warnings):,} warning(s), not blocking, e.g. row "
                   f"{int(result.warnings['row'].iloc[0])}: {result.warnings['message'].iloc[0]}")
    if not len(result.issues):
        return
    shown = result.issues.head(ISSUES_SHOWN)
    width = max(len(str(c)) for c in [*shown["column"], "column"])
    click.echo(f"\n{'row':>7}  {'column':<{width}}  {'code':<20}  message")
    for rec in shown.to_dict("records"):
        click.echo(f"{int(rec['row']):>7}  {rec['column']!s:<{width}}  {rec['code']!s:<20}  "
                   f"{rec['message']}")
    if len(result.issues) > ISSUES_SHOWN:
        click.echo(f"… and {len(result.issues) - ISSUES_SHOWN:,} more (use --json for all).")
