"""Intake commands: ``types``, ``template`` and ``validate`` (nothing is sent).

``validate FILE --type SLUG`` reads, maps and validates a file the same way the console
does, and exits 0 when every row is valid, 1 when some are not, 2 when the file cannot be
read or the command is used wrongly (the message goes to stderr, never a traceback).
``--json`` prints exactly one object: ``{"type", "rows", "valid", "invalid", "chunks",
"issues": [{"row", "column", "field", "value", "code", "message"}], "notes", "encoding",
"read_as", "header_row", "header_note", "reading", "decimal_comma_example"}`` where ``row``
is the spreadsheet row and ``read_as`` names the encoding assumed when the file is not
UTF-8 ("Windows-1252"), else null.

The reading options (``--sheet``, ``--map``, ``--date-order``, ``--header-row``,
``--decimal``, ``--kind``) and :func:`read_and_validate` are shared with ``submit``, so
both commands read a file exactly alike.

``validate`` run as its own process (``python -m gameball_batch``) tunes that process for
one short run and ends it without tear-down (:func:`_one_shot_process`); called in
process (tests, ``CliRunner``) it changes nothing of its caller's.

This module must not send anything, touch the ledger or import streamlit.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import importlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from gameball_batch.batch_types import BATCH_TYPES, BatchType

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
ISSUES_SHOWN = 20
DATE_ORDER_CHOICES = ("auto", "DMY", "MDY")
DECIMAL_CHOICES = ("dot", "comma")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Reading:
    """How to read a file: the options ``validate`` and ``submit`` share."""

    sheet: str | None = None
    maps: tuple[str, ...] = ()
    date_order: str = "auto"
    header_row: int | None = None
    decimal: str = "dot"
    kinds: tuple[str, ...] = ()


def reading_options(func: F) -> F:
    """Add the reading options; the command receives them as one ``reading`` argument."""
    options = [
        click.option("--sheet", help="Workbook sheet to read (default: the first visible one)."),
        click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN",
                     help="Say which column holds a field; repeat as needed."),
        click.option("--date-order", type=click.Choice(DATE_ORDER_CHOICES), default="auto",
                     show_default=True, help="How to read dates like 03/04/2026."),
        click.option("--header-row", type=click.IntRange(min=1), metavar="N",
                     help="The row that holds the column headers (default: found; a title "
                          "block above it is skipped)."),
        click.option("--decimal", type=click.Choice(DECIMAL_CHOICES), default="dot",
                     show_default=True,
                     help="The decimal mark of numbers: comma reads 1.234,50 as 1234.50."),
        click.option("--kind", "kinds", multiple=True, metavar="FIELD=KIND",
                     help="Kind of a custom-attribute or metadata column: number, yes-no or "
                          "text (default: inferred); repeat as needed."),
    ]

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        reading = Reading(kwargs.pop("sheet"), tuple(kwargs.pop("maps")),
                          kwargs.pop("date_order"), kwargs.pop("header_row"),
                          kwargs.pop("decimal"), tuple(kwargs.pop("kinds")))
        return func(reading=reading, **kwargs)

    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


@dataclass
class ReadResult:
    """A file read, mapped and validated as ``Reading`` says."""

    table: Any  # ingest.Table
    mapping: dict[str, str]
    result: Any  # validate.ValidationResult

    @property
    def read_as(self) -> str | None:
        """The encoding assumed when the file is not UTF-8 ("Windows-1252"), else None."""
        from gameball_batch.ingest import encoding_label

        return encoding_label(self.table.encoding)

    def notes(self) -> list[str]:
        """What the operator should know about how the file was read, in reading order."""
        notes = []
        if self.read_as:
            notes.append(f"read as {self.read_as} (the file is not UTF-8)")
        if self.table.header_note:
            notes.append(self.table.header_note)
        kinds = self.result.reading.get("kinds") or {}
        if kinds:
            shown = ", ".join(f"{path} → {kind}" for path, kind in kinds.items())
            notes.append(f"custom columns sent as: {shown} (change with --kind FIELD=KIND)")
        if self.result.decimal_comma_example:
            notes.append(f"this file writes decimals with commas, e.g. "
                         f"{self.result.decimal_comma_example}: pass --decimal comma to read "
                         "it that way")
        return notes + list(self.result.notes)


def read_and_validate(
    bt: BatchType, file: Path, reading: Reading, fail: Callable[[str, int], NoReturn], *,
    unreadable: int = EXIT_USAGE, max_bytes: int | None = None, max_rows: int | None = None,
) -> ReadResult:
    """Read, map and validate ``file``; ``fail(message, code)`` ends the command."""
    contents = _reading_meanwhile(file)
    from gameball_batch import mapping  # arrow only: reading a file needs no pandas
    from gameball_batch.ingest import IngestError, read_table

    try:
        explicit = mapping.parse_map_options(list(reading.maps))
        kinds = mapping.parse_kind_options(list(reading.kinds))
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    with _importing_meanwhile("gameball_batch.validate"):
        try:
            data = contents()
        except OSError as exc:
            fail(f"Could not read {file}: {exc.strerror or exc}", unreadable)
        try:
            table = read_table(data, file.name, sheet=reading.sheet, max_bytes=max_bytes,
                               max_rows=max_rows, header_row=reading.header_row,
                               header_test=mapping.header_test(bt, explicit))
        except IngestError as exc:
            fail(str(exc), unreadable)
    from gameball_batch import validate
    headers = [str(c) for c in table.frame.columns]
    chosen = {**mapping.suggest_mapping(bt, headers).mapping, **explicit}
    problems = mapping.mapping_problems(bt, chosen, headers)
    if problems:
        fail("The columns cannot be mapped:\n  " + "\n  ".join(problems)
             + "\nUse --map FIELD=COLUMN to say which column holds a field.", unreadable)
    free = mapping.free_form_paths(bt, chosen)
    strangers = [path for path in kinds if path not in free]
    if strangers:
        listed = ", ".join(free) or "none in this file"
        fail(f"--kind {strangers[0]}: not a custom-attribute or metadata column of this file "
             f"(those are: {listed}).", EXIT_USAGE)
    mapped = mapping.apply_mapping(table.frame, chosen)
    result = validate.validate(bt, mapped, columns=chosen, id_seed=table.fingerprint,
                               date_order=reading.date_order, decimal=reading.decimal,
                               kinds=kinds)
    return ReadResult(table, chosen, result)


def _reading_meanwhile(file: Path) -> Callable[[], bytes]:
    """Start reading ``file`` on a thread; call the result for its bytes (or its OSError).

    Reading a big file is a system call that runs without the GIL, while importing arrow
    and the mapping rules holds it: the two overlap instead of following each other.
    """
    done: list[bytes | OSError] = []

    def read() -> None:
        try:
            done.append(file.read_bytes())
        except OSError as exc:
            done.append(exc)

    thread = threading.Thread(target=read, name=f"read {file.name}", daemon=True)
    thread.start()

    def contents() -> bytes:
        thread.join()
        if isinstance(done[0], OSError):
            raise done[0]
        return done[0]

    return contents


@contextlib.contextmanager
def _importing_meanwhile(module: str) -> Iterator[None]:
    """Import ``module`` on a thread while the block runs; wait for it at the end.

    Validation needs pandas, whose import takes ~0.3 s; arrow's CSV parse of a big file
    takes about as long and mostly runs outside the GIL, so the two overlap. Reading
    imports pandas itself (to build the frame) and then waits for this thread, never
    twice. Any import error is left to the command's own import to report.
    """
    def load() -> None:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)

    thread = threading.Thread(target=load, name=f"import {module}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@reading_options
def validate_command(file: Path, slug: str, as_json: bool, reading: Reading) -> None:
    """Check FILE as a batch of type --type; nothing is sent."""
    bt = _batch_type(slug)
    _one_shot_process()
    read = read_and_validate(bt, file, reading, _fail)
    from gameball_batch import payloads  # after reading: see _importing_meanwhile

    chunks = payloads.chunk_count(read.result)  # no body is built just to count them
    if as_json:
        click.echo(json.dumps(_json_report(bt, read, chunks), ensure_ascii=False))
    else:
        _human_report(bt, read, chunks)
    sys.exit(EXIT_OK if read.result.invalid_count == 0 else EXIT_INVALID)


def _one_shot_process() -> None:
    """Tune this process for reading one file and ending (``validate``).

    What costs a 1M-row validate most beyond the work itself is fresh memory: every page a
    buffer touches first is faulted in and cleared (2 MB at once where transparent huge
    pages apply), and freed big buffers go back to the system, so the next one faults
    again. A process that ends within a second has no reason to give memory back:

    - glibc keeps big blocks in its heap (no ``mmap``/``munmap`` per numpy array) and never
      trims it; arrow's mimalloc never purges freed pages; no transparent huge pages (see
      :func:`_keep_heap`);
    - OpenBLAS starts a thread per core at numpy's import; validation never uses it;
    - Python's cyclic garbage collector is off: importing pandas and arrow allocates
      enough objects to run full collections over all of them (~6 % of the process's CPU
      in a profile), and the process ends before any cycle's memory would matter;
    - the process ends without tearing its tables down
      (:func:`gameball_batch.cli.end_without_teardown`).

    Each was measured in interleaved fresh processes (bench/README.md, issue 18, Session
    6). Only a process started as the command line is tuned (``cli.run``); a caller of the
    command in its own process (tests, another program) keeps its settings. The
    environment variables are read when the libraries load, so they are set only while
    arrow and numpy are not loaded yet.
    """
    from gameball_batch import cli

    if not cli.own_process():
        return
    if "pyarrow" not in sys.modules and "numpy" not in sys.modules:
        os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _keep_heap()
    gc.disable()
    cli.end_without_teardown()


def _keep_heap() -> None:
    """glibc: big blocks from the heap, never trimmed (``mallopt``); Linux: no transparent
    huge pages for this process. No-op elsewhere.

    numpy and mimalloc ask for huge pages on their big buffers; each first touch then
    clears 2 MB, and when the kernel has no free 2 MB page at hand it compacts memory
    first, in the faulting thread: on a shared machine that showed as 0.3 s to 1 s of
    system time from one run to the next."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return
    pr_set_thp_disable = 41
    with contextlib.suppress(AttributeError):
        libc.prctl(pr_set_thp_disable, 1, 0, 0, 0)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:  # not glibc (musl has no mallopt)
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 1 << 30)  # C ints: 1 GB is far above any block here
    mallopt(m_trim_threshold, 1 << 30)
    mallopt(m_top_pad, 256 << 20)


def _json_report(bt: BatchType, read: ReadResult, chunks: int) -> dict[str, Any]:
    result, table = read.result, read.table
    issues = [
        {"row": int(rec["row"]), "column": str(rec["column"]), "field": str(rec["field"]),
         "value": str(rec["value"]), "code": str(rec["code"]), "message": str(rec["message"])}
        for rec in result.issues.to_dict("records")
    ]
    return {"type": bt.slug, "rows": int(result.total_rows), "valid": int(result.valid_count),
            "invalid": int(result.invalid_count), "chunks": chunks, "issues": issues,
            "notes": read.notes(), "encoding": table.encoding, "read_as": read.read_as,
            "header_row": table.header_row, "header_note": table.header_note,
            "reading": result.reading, "decimal_comma_example": result.decimal_comma_example}


def _human_report(bt: BatchType, read: ReadResult, chunks: int) -> None:
    result = read.result
    click.echo(f"{bt.title}: {result.total_rows:,} rows, {result.valid_count:,} valid, "
               f"{result.invalid_count:,} invalid; the valid rows make {chunks:,} request(s).")
    for note in read.notes():
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
