"""The new-batch flow's screens: choose → upload → map → validate & fix → review → submit.

``pages/new_batch.py`` calls :func:`render`; each step is a small function that draws its
widgets (keys from :mod:`gameball_batch.ui.state`) and calls the package for the work.
Expensive results (the read table, the validation, the chunk plan, the impact) live in an
:class:`~gameball_batch.ui.intake_model.IntakeCache` in session state, keyed by the file's
fingerprint and everything else they depend on, so a rerun never re-reads the file.

Every package call goes through :func:`_attempt`: an operator error shows its message and
a way forward, an unexpected one a short apology (the details go to the server log), never
a traceback. This module must not send anything: it creates a queued job in the ledger and
the runner (a process-level thread) does the sending.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from gameball_batch import approval_flow, approvals, exports, guards, schedule
from gameball_batch import jobs as job_service
from gameball_batch import ledger as lg
from gameball_batch.batch_types import BATCH_TYPES, BatchType
from gameball_batch.charts import intake as charts
from gameball_batch.ingest import encoding_label
from gameball_batch.ui import frame, review_model, review_view, routing, schedule_view, services
from gameball_batch.ui import intake_model as model
from gameball_batch.ui import state as keys
from gameball_batch.ui.common import why_disabled
from gameball_batch.ui.text import literal
from gameball_batch.validate import describe_reading

log = logging.getLogger(__name__)

T = TypeVar("T")

UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "xls", "ods", "json", "jsonl"]
ISSUE_TABLE_LIMIT = 10_000  # rows of the issue table drawn; the download holds them all
CHUNK_SIZE = 1000
ENGINE_MODULES = ("ingest", "mapping", "validate", "payloads")


class StepFailed(Exception):
    """A step could not finish; its message is already on the page."""


# --- the package modules this flow drives ---------------------------------------------------


@dataclass(frozen=True)
class Engine:
    ingest: Any
    mapping: Any
    validate: Any
    payloads: Any
    templates: Any | None
    jobs: Any | None


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"gameball_batch.{name}")
    except ImportError:
        log.warning("gameball_batch.%s is not available", name)
        return None


def _engine() -> Engine | None:
    loaded = {name: _optional(name) for name in ENGINE_MODULES}
    missing = [name for name, module in loaded.items() if module is None]
    if missing:
        st.warning(
            "The intake engine is not installed in this build yet "
            f"(missing: {', '.join(missing)}), so files cannot be read here. "
            "Use a build that includes them."
        )
        return None
    return Engine(**loaded, templates=_optional("templates"), jobs=_optional("jobs"))


# --- error handling -------------------------------------------------------------------------


def _attempt(what: str, call: Callable[[], T], *, hint: str = "") -> T:
    """Run a package call; on failure show an operator message and raise StepFailed."""
    try:
        return call()
    except StepFailed:
        raise
    except (ValueError, KeyError, OSError, UnicodeError) as exc:
        message = str(exc).strip().strip("'\"") or type(exc).__name__
        # ``what`` and the message name the file and quote its cells: literal text.
        st.error(f"Could not {literal(what)}: {literal(message)}"
                 + (f"\n\n{hint}" if hint else ""))
        raise StepFailed(what) from exc
    except Exception as exc:
        log.exception("could not %s", what)
        st.error(
            f"Could not {literal(what)} because of an unexpected problem ({type(exc).__name__}). "
            "Try again; if it keeps happening, start over with **Start over** above and "
            "tell the team (details are in the console's log)."
        )
        raise StepFailed(what) from exc


def _cached(kind: str, key: Any, compute: Callable[[], T], *, keep: int | None = None) -> T:
    cache: model.IntakeCache = st.session_state.setdefault(keys.NB_CACHE, model.IntakeCache())
    return cache.get(kind, key, compute, keep=keep)


# --- session helpers ----------------------------------------------------------------------

FLOW_KEYS = (
    keys.NB_FILE, keys.NB_SHEET, keys.NB_MAP_CONTEXT, keys.NB_FIXES, keys.NB_EDITOR_GEN,
    keys.NB_EDITOR_PAGE_FRAME, keys.NB_DROP_INVALID, keys.NB_OVERRIDE_SENT,
    keys.NB_OVERRIDE_REASON, keys.NB_CONFIRM,
    keys.NB_CONFIRM_TEXT, keys.NB_FIX_PAGE, keys.NB_ISSUE_FIELDS, keys.NB_ISSUE_RULES,
    keys.NB_SUBMIT_ERROR, keys.NB_UPLOAD_AUDITED, keys.NB_FIND_ROW, keys.NB_HEADER_ROW,
    keys.NB_DECIMAL,
)


def _forget_file_state() -> None:
    """Everything derived from the held file goes; the file itself is the caller's call."""
    for key in list(st.session_state.keys()):
        name = str(key)
        if name.startswith((keys.NB_MAP_PREFIX, keys.NB_EDITOR_PREFIX, keys.NB_KIND_PREFIX)) or (
            name in FLOW_KEYS and name != keys.NB_FILE
        ):
            del st.session_state[name]


def _on_upload(key: str) -> None:
    uploaded = st.session_state.get(key)
    _forget_file_state()
    if uploaded is None:
        st.session_state.pop(keys.NB_FILE, None)
        return
    st.session_state[keys.NB_FILE] = model.HeldFile(uploaded.name, uploaded.getvalue())


def _on_sheet_change() -> None:
    # Fixes are keyed by row and column of one sheet: they do not carry to another. Nor
    # does a header row chosen for another sheet.
    st.session_state.pop(keys.NB_HEADER_ROW, None)
    _on_header_change()


def _on_header_change() -> None:
    # Another header row means other columns: fixes and the mapping start again.
    st.session_state.pop(keys.NB_MAP_CONTEXT, None)
    st.session_state.pop(keys.NB_FIXES, None)
    st.session_state.pop(keys.NB_DROP_INVALID, None)
    st.session_state[keys.NB_EDITOR_GEN] = int(st.session_state.get(keys.NB_EDITOR_GEN, 0)) + 1


def _on_type_change() -> None:
    for key in list(st.session_state.keys()):
        name = str(key)
        if name.startswith((keys.NB_MAP_PREFIX, keys.NB_KIND_PREFIX)) or name in (
            keys.NB_MAP_CONTEXT, keys.NB_FIXES, keys.NB_DROP_INVALID, keys.NB_CONFIRM,
            keys.NB_CONFIRM_TEXT, keys.NB_OVERRIDE_SENT, keys.NB_OVERRIDE_REASON,
        ):
            del st.session_state[name]


def _start_over() -> None:
    _forget_file_state()
    st.session_state.pop(keys.NB_FILE, None)
    st.session_state.pop(keys.NB_CACHE, None)
    st.session_state[keys.NB_UPLOAD_GEN] = int(st.session_state.get(keys.NB_UPLOAD_GEN, 0)) + 1


# --- the flow -------------------------------------------------------------------------------


def render() -> None:
    """Draw the whole guided flow, as far as the operator has got."""
    st.title("New batch")
    _last_job_notice()
    engine = _engine()
    bt = _choose_type(engine)
    if engine is None:
        return
    try:
        _flow(engine, bt)
    except StepFailed:
        return


def _flow(engine: Engine, bt: BatchType) -> None:
    held = _upload()
    if held is None:
        return
    table = _read(engine, bt, held)
    mapping = _map_columns(engine, bt, table)
    if mapping is None:
        return
    fixed, result = _validate(engine, bt, table, held, mapping)
    if not _validation_view(bt, table, fixed, result, mapping):
        return
    _review_and_submit(engine, bt, table, held, fixed, result, mapping)


def _last_job_notice() -> None:
    # Shown once, on the first return to this page: a later visit starts clean.
    job_id = st.session_state.pop(keys.NB_LAST_JOB, None)
    if job_id:
        job = services.get_ledger().job(str(job_id))
        if job is not None and job.state == lg.JOB_AWAITING_APPROVAL:
            st.info(f"Job {literal(job_id)} waits for an approver: nothing is sent until "
                    "someone else approves it on the Approvals page.", icon=":material/approval:")
        else:
            st.success(f"Job {literal(job_id)} was submitted.", icon=":material/check_circle:")
        st.page_link(routing.page("jobs"), label="Open it on the Jobs page",
                     query_params={keys.JOB_QUERY_PARAM: job_id})


# --- 1. choose ------------------------------------------------------------------------------


def _choose_type(engine: Engine | None) -> BatchType:
    st.header("1. Choose the batch type")
    if keys.NB_TYPE not in st.session_state and keys.NB_TYPE_LAST in st.session_state:
        st.session_state[keys.NB_TYPE] = st.session_state[keys.NB_TYPE_LAST]
    slug = st.selectbox(
        "Batch type",
        options=list(BATCH_TYPES),
        format_func=lambda s: BATCH_TYPES[s].title,
        key=keys.NB_TYPE,
        on_change=_on_type_change,
    )
    st.session_state[keys.NB_TYPE_LAST] = slug
    bt = BATCH_TYPES[str(slug)]
    st.write(bt.description)
    required = ", ".join(f"**{f.label}** (`{f.path}`)" for f in bt.required)
    st.markdown(f"Required fields: {required}")
    if bt.one_of:
        groups = "; ".join(" or ".join(g) for g in bt.one_of)
        st.markdown(f"Exactly one of: {groups}")
    if engine is not None:
        _template_buttons(engine, bt)
    return bt


def _template_buttons(engine: Engine, bt: BatchType) -> None:
    if engine.templates is None:
        st.caption("Templates are not available in this build.")
        return
    left, right = st.columns(2)
    for column, fmt, key, mime in (
        (left, "csv", keys.NB_TEMPLATE_CSV, "text/csv"),
        (right, "xlsx", keys.NB_TEMPLATE_XLSX,
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ):
        try:
            data = _template_bytes(engine.templates, bt, fmt)
        except Exception:
            log.exception("template %s for %s failed", fmt, bt.slug)
            column.caption(f"The {fmt.upper()} template could not be built.")
            continue
        column.download_button(
            f"Download {fmt.upper()} template", data=data, file_name=f"{bt.slug}-template.{fmt}",
            mime=mime, key=key,
        )


def _template_bytes(templates: Any, bt: BatchType, fmt: str) -> bytes:
    return _template_of(templates, bt.slug, fmt)


# A template depends on its type and format only, yet building both (an XLSX of two sheets
# and a CSV) was ~2/3 of the script time of every rerun of this page: built once per process.
@functools.lru_cache(maxsize=2 * len(BATCH_TYPES))
def _template_of(templates: Any, slug: str, fmt: str) -> bytes:
    return bytes(templates.template_bytes(BATCH_TYPES[slug], fmt))


# --- 2. upload ------------------------------------------------------------------------------


def _upload() -> model.HeldFile | None:
    st.header("2. Upload the file")
    settings = services.get_settings()
    st.file_uploader(
        "Spreadsheet (CSV, TSV, TXT, XLSX, XLS, ODS, JSON or JSONL)",
        type=UPLOAD_TYPES,
        key=keys.upload_key(int(st.session_state.get(keys.NB_UPLOAD_GEN, 0))),
        on_change=_on_upload,
        args=(keys.upload_key(int(st.session_state.get(keys.NB_UPLOAD_GEN, 0))),),
        max_upload_size=settings.max_upload_mb,
        help=f"Up to {settings.max_upload_mb} MB and {settings.max_rows:,} rows. "
        "Row numbers below are the ones you see in Excel: the header is row 1.",
    )
    held: model.HeldFile | None = st.session_state.get(keys.NB_FILE)
    if held is None:
        st.info("Upload a file to continue. Not sure of the columns? Download a template above.")
        return None
    st.button("Start over", key=keys.NB_RESET, on_click=_start_over)
    return held


def _read(engine: Engine, bt: BatchType, held: model.HeldFile) -> Any:
    settings = services.get_settings()
    hint = ("Check that the file is the spreadsheet you meant, saved as one of the listed "
            "formats, then upload it again.")
    # Sheets first: a workbook whose first sheet is unreadable must still offer the others.
    sheets: list[str] = _attempt(f"read {held.name}", lambda: _cached(
        "sheets", (held.fingerprint, held.name),
        lambda: list(engine.ingest.list_sheets(held.data, held.name))), hint=hint)
    sheet = None
    if len(sheets) > 1:
        if st.session_state.get(keys.NB_SHEET) not in sheets:
            st.session_state.pop(keys.NB_SHEET, None)
        sheet = str(st.selectbox("Worksheet", sheets, key=keys.NB_SHEET,
                                 on_change=_on_sheet_change))
    header = _header_row_choice(held)

    def read() -> Any:
        return engine.ingest.read_table(
            held.data, held.name, sheet=sheet,
            max_bytes=settings.max_upload_mb * 1024 * 1024, max_rows=settings.max_rows,
            header_row=header, header_test=engine.mapping.header_test(bt),
        )

    # The header test knows the type's fields, so the type is part of what a read depends on.
    table = _attempt(f"read {held.name}" + (f", sheet “{sheet}”" if sheet else ""),
                     lambda: _cached("table", (held.fingerprint, held.name, sheet, bt.slug,
                                               header), read),
                     hint=hint + (" Or choose another worksheet above." if sheet else ""))
    _audit_upload(held, table)
    st.caption(_detected(held, table))
    if table.header_row is not None:
        note = table.header_note or f"header in row {table.header_row}"
        st.caption(f":material/table_rows: {note[:1].upper()}{note[1:]}. Data rows keep their "
                   "row numbers.")
    if table.frame.empty:
        st.error(f"{literal(held.name)} has a header but no data rows. Add rows and upload it "
                 "again.")
        raise StepFailed("empty file")
    return table


def _header_row_choice(held: model.HeldFile) -> int | None:
    """The operator's header row, or None to let the reader find it (JSON has none)."""
    if held.name.lower().endswith((".json", ".jsonl", ".ndjson")):
        return None
    value = st.number_input(
        "Header row (the row with the column names)", min_value=1, max_value=1_000_000,
        value=None, step=1, key=keys.NB_HEADER_ROW, on_change=_on_header_change,
        placeholder="found automatically",
        help="Leave empty to find it: a title block above the header (a title, a date, "
        "blank rows) is skipped. Type a row number, as Excel shows it, to choose it yourself.",
    )
    return None if value is None else int(value)


def _audit_upload(held: model.HeldFile, table: Any) -> None:
    """Record a successful read in the audit log once per file (and sheet), not per rerun."""
    done: set[tuple[str, str, str | None]] = st.session_state.setdefault(
        keys.NB_UPLOAD_AUDITED, set())
    key = (held.fingerprint, held.name, table.sheet)
    if key in done:
        return
    _attempt("record the upload in the audit log", lambda: job_service.record_upload(
        services.get_ledger(), actor=frame.identity().actor, file_name=held.name,
        file_format=str(table.format), rows=len(table.frame), fingerprint=held.fingerprint,
        sheet=table.sheet))
    done.add(key)


def _detected(held: model.HeldFile, table: Any) -> str:
    parts = [f"**{literal(held.name)}** ({held.size_text})", f"format {table.format.upper()}"]
    if table.encoding:
        # Like `validate`: a file that is not UTF-8 says which encoding was assumed.
        assumed = " (not UTF-8: read as such)" if encoding_label(table.encoding) else ""
        parts.append(f"encoding {table.encoding}{assumed}")
    if table.delimiter:
        shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(
            table.delimiter, repr(table.delimiter)
        )
        parts.append(f"delimiter {shown}")
    if table.sheet:
        parts.append(f"sheet “{literal(table.sheet)}”")
    rows, cols = table.frame.shape
    parts.append(f"{rows:,} rows × {cols} columns")
    return "Detected: " + " · ".join(parts)


# --- 3. map ---------------------------------------------------------------------------------


def _store(engine: Engine) -> Any:
    return engine.mapping.MappingStore(Path.home() / ".gameball-batch" / "mappings.json")


def _init_mapping(engine: Engine, bt: BatchType, table: Any, headers: list[str]) -> None:
    context = (bt.slug, table.fingerprint, table.sheet, table.header_row)
    if st.session_state.get(keys.NB_MAP_CONTEXT) == context:
        return
    suggestion = engine.mapping.suggest_mapping(bt, headers)
    for path in model.ordered_fields(bt):
        st.session_state[keys.map_key(path)] = suggestion.mapping.get(path, keys.NO_COLUMN)
    st.session_state[keys.NB_MAP_CONTEXT] = context


def _apply_saved(engine: Engine, bt: BatchType, headers: list[str]) -> None:
    name = st.session_state.get(keys.NB_MAPPING_LOAD)
    if not name:
        return
    try:
        saved = _store(engine).load(bt.slug, name)
    except Exception as exc:
        st.session_state[keys.ST_FLASH] = ("error", f"Could not load mapping '{name}': {exc}")
        return
    for path in model.ordered_fields(bt):
        column = saved.get(path)
        st.session_state[keys.map_key(path)] = column if column in headers else keys.NO_COLUMN


def _save_current(engine: Engine, bt: BatchType, mapping: dict[str, str]) -> None:
    name = str(st.session_state.get(keys.NB_MAPPING_NAME, "")).strip()
    if not name:
        st.session_state[keys.ST_FLASH] = ("error", "Give the mapping a name to save it.")
        return
    try:
        _store(engine).save(bt.slug, name, mapping)
    except Exception as exc:
        st.session_state[keys.ST_FLASH] = ("error", f"Could not save mapping '{name}': {exc}")
        return
    st.session_state[keys.ST_FLASH] = ("success", f"Mapping '{name}' saved for {bt.title}.")


def _flash() -> None:
    flash = st.session_state.pop(keys.ST_FLASH, None)
    if flash:
        kind, message = flash
        (st.success if kind == "success" else st.error)(message)


def _map_columns(engine: Engine, bt: BatchType, table: Any) -> dict[str, str] | None:
    st.header("3. Map columns to fields")
    headers = [str(c) for c in table.frame.columns]
    _attempt("suggest a mapping", lambda: _init_mapping(engine, bt, table, headers))
    _flash()
    options = [keys.NO_COLUMN, *headers]
    for path in model.ordered_fields(bt):  # a header that vanished (sheet change) resets
        if st.session_state.get(keys.map_key(path)) not in options:
            st.session_state[keys.map_key(path)] = keys.NO_COLUMN

    required = [f for f in bt.fields if f.required]
    optional = [f for f in bt.fields if not f.required]
    st.markdown("**Required fields** (marked \\*)")
    grid = st.columns(3)
    for i, spec in enumerate(required):
        grid[i % 3].selectbox(f"{spec.label} *", options, key=keys.map_key(spec.path),
                              help=spec.help or None)
    mapped_optional = sum(
        st.session_state.get(keys.map_key(f.path)) != keys.NO_COLUMN for f in optional
    )
    if optional:
        with st.expander(f"Optional fields ({mapped_optional} of {len(optional)} mapped)"):
            grid = st.columns(3)
            for i, spec in enumerate(optional):
                grid[i % 3].selectbox(spec.label, options, key=keys.map_key(spec.path),
                                      help=spec.help or None)

    mapping = {
        path: str(st.session_state[keys.map_key(path)])
        for path in model.ordered_fields(bt)
        if st.session_state.get(keys.map_key(path)) not in (None, keys.NO_COLUMN)
    }
    suggestion = _attempt("suggest a mapping", lambda: engine.mapping.suggest_mapping(bt, headers))
    extra = model.open_prefix_mapping(bt, suggestion.mapping)
    if extra:
        mapping.update(extra)
        _kind_choices(engine, bt, table, extra)
    _saved_mappings(engine, bt, headers, mapping)

    _date_order_choice(engine)
    _decimal_choice()
    problems = _attempt("check the mapping",
                        lambda: engine.mapping.mapping_problems(bt, mapping, headers))
    if problems:
        st.error("Fix the mapping to continue:\n\n" + "\n".join(f"- {p}" for p in problems))
        return None
    unused = [h for h in headers if h not in set(mapping.values())]
    if unused:
        st.caption("Not sent (no field chosen): " + ", ".join(f"`{h}`" for h in unused))
    return mapping


DATE_ORDER_LABELS = {
    "auto": "Work it out from the file",
    "DMY": "Day first (31/12/2026)",
    "MDY": "Month first (12/31/2026)",
}


def _date_order_choice(engine: Engine) -> None:
    orders = list(getattr(engine.validate, "DATE_ORDERS", ("auto",)))
    st.selectbox("Dates written with slashes, like 03/04/2026, are", orders,
                 format_func=lambda o: DATE_ORDER_LABELS.get(o, o), key=keys.NB_DATE_ORDER)


DECIMAL_LABELS = {
    "dot": "Dots (1,234.50)",
    "comma": "Commas (1.234,50)",
}


def _decimal_choice() -> None:
    st.selectbox("Numbers write their decimals with", list(DECIMAL_LABELS),
                 format_func=lambda d: DECIMAL_LABELS.get(d, d), key=keys.NB_DECIMAL)


KIND_LABELS = {"number": "Number", "yes-no": "Yes / no", "text": "Text"}


def _kind_choices(engine: Engine, bt: BatchType, table: Any, extra: dict[str, str]) -> None:
    """Custom-attribute / metadata columns: what each is sent as, inferred, changeable."""
    inferred: dict[str, str] = _attempt("look at the custom columns", lambda: _cached(
        "kinds", (table.fingerprint, table.sheet, table.header_row, _decimal(),
                  tuple(sorted(extra.items()))),
        lambda: engine.mapping.column_kinds(bt, table.frame, extra, decimal=_decimal())))
    st.markdown("**Also sent** (custom columns: numbers and yes/no are sent as JSON numbers "
                "and booleans; ids such as 00123 stay text)")
    grid = st.columns(3)
    for i, (path, column) in enumerate(extra.items()):
        key = keys.NB_KIND_PREFIX + path
        if st.session_state.get(key) not in KIND_LABELS:
            st.session_state[key] = inferred.get(path, "text")
        cell = grid[i % 3].container()
        cell.text(f"{column} → {path}")  # a file's header: literal text, never markdown
        cell.selectbox("Sent as", list(KIND_LABELS), key=key,
                       format_func=lambda k: KIND_LABELS.get(k, k))


def _chosen_kinds(bt: BatchType, mapping: dict[str, str]) -> dict[str, str]:
    fixed = {f.path for f in bt.fields}
    return {path: str(st.session_state[keys.NB_KIND_PREFIX + path]) for path in mapping
            if path not in fixed and keys.NB_KIND_PREFIX + path in st.session_state}


def _saved_mappings(
    engine: Engine, bt: BatchType, headers: list[str], mapping: dict[str, str]
) -> None:
    with st.expander("Saved mappings"):
        try:
            names = list(_store(engine).names(bt.slug))
        except Exception:
            log.exception("listing saved mappings failed")
            names = []
        left, right = st.columns(2)
        if names:
            left.selectbox("Saved mapping", names, key=keys.NB_MAPPING_LOAD)
            left.button("Apply saved mapping", key=keys.NB_MAPPING_APPLY,
                        on_click=_apply_saved, args=(engine, bt, headers))
        else:
            left.caption(f"No saved mappings for {bt.title} yet.")
        right.text_input("Save this mapping as", key=keys.NB_MAPPING_NAME,
                         placeholder="e.g. Shopify export")
        right.button("Save mapping", key=keys.NB_MAPPING_SAVE, on_click=_save_current,
                     args=(engine, bt, mapping))


# --- 4. validate & fix ----------------------------------------------------------------------


def _result_key(
    held: model.HeldFile, table: Any, bt: BatchType, mapping: dict[str, str]
) -> tuple[Any, ...]:
    """Everything a validation (and the impact and plan built on it) depends on."""
    return (held.fingerprint, table.sheet, bt.slug, model.mapping_key(mapping),
            model.fixes_key(st.session_state.get(keys.NB_FIXES, {})),
            str(st.session_state.get(keys.NB_DATE_ORDER) or "auto"), table.header_row,
            _decimal(), tuple(sorted(_chosen_kinds(bt, mapping).items())))


def _decimal() -> str:
    return str(st.session_state.get(keys.NB_DECIMAL) or "dot")


def _validate(
    engine: Engine, bt: BatchType, table: Any, held: model.HeldFile, mapping: dict[str, str]
) -> tuple[pd.DataFrame, Any]:
    fixes: model.Fixes = st.session_state.get(keys.NB_FIXES, {})
    order = str(st.session_state.get(keys.NB_DATE_ORDER) or "auto")
    key = _result_key(held, table, bt, mapping)

    def run() -> tuple[pd.DataFrame, Any]:
        fixed = model.apply_fixes(table.frame, fixes)
        mapped = engine.mapping.apply_mapping(fixed, mapping)
        result = engine.validate.validate(
            bt, mapped, columns=mapping, id_seed=held.fingerprint, date_order=order,
            decimal=_decimal(), kinds=_chosen_kinds(bt, mapping),
        )
        # Outliers need a whole column: found by impact.py, listed with validation's warnings.
        return fixed, review_model.with_value_warnings(result, mapping)

    value: tuple[pd.DataFrame, Any] = _attempt(
        "validate the rows", lambda: _cached("validation", key, run)
    )
    return value


def _validation_view(
    bt: BatchType, table: Any, fixed: pd.DataFrame, result: Any, mapping: dict[str, str]
) -> bool:
    """Counts, issues and the fixer; True when the flow may go on to the review."""
    st.header("4. Validate and fix")
    _decimal_offer(result)
    total, invalid = int(result.total_rows), int(result.invalid_count)
    a, b, c, d = st.columns(4)
    a.metric("Rows", f"{total:,}")
    b.metric("Valid", f"{int(result.valid_count):,}")
    c.metric("Invalid", f"{invalid:,}")
    d.metric("Warnings", f"{len(result.warnings):,}")
    for note in result.notes:
        st.text(f"ⓘ {note}")  # the notes quote headers and cells: literal text
    st.text(f"Read with: {_reading_text(table, result)}")
    if invalid == 0:
        st.success(f"All {total:,} rows are valid.")
    if invalid or len(result.warnings):
        _issues_view(review_model.issue_table(result))
        _fixer(fixed, result, mapping)
    # Drawn only on request: a table is registered with its whole frame on every run, even
    # inside a closed expander (~1.3 s of each run for a 1M-row file).
    if st.toggle(f"Show the whole file ({len(fixed):,} rows, read-only, with your fixes)",
                 key=keys.NB_SHOW_WHOLE_FILE):
        st.dataframe(fixed, lazy=True, key=keys.NB_WHOLE_FILE)
    if invalid and result.valid_count == 0:
        st.error("No row is valid yet. Fix the rows above, or upload a corrected file.")
        return False
    if invalid:
        drop = st.checkbox(
            f"Send only the {int(result.valid_count):,} valid rows and leave out the "
            f"{invalid:,} invalid ones",
            key=keys.NB_DROP_INVALID,
        )
        if not drop:
            st.info("Fix the failing rows above, or tick the box to leave them out, to continue.")
            return False
    return True


def _decimal_offer(result: Any) -> None:
    """Offer, never decide: a file that reads as decimal commas is read so on request."""
    example = getattr(result, "decimal_comma_example", None)
    if not example or _decimal() != "dot":
        return
    st.info(f"This file writes decimals with commas, e.g. {example}. Read it that way?",
            icon=":material/help:")
    st.button("Yes, read decimals with commas", key=keys.NB_DECIMAL_ACCEPT,
              on_click=_accept_decimal_comma)


def _accept_decimal_comma() -> None:
    st.session_state[keys.NB_DECIMAL] = "comma"


def _reading_text(table: Any, result: Any) -> str:
    """How the file was read, as stored with the job and shown on its pages."""
    return describe_reading({**getattr(result, "reading", {}), "header_row": table.header_row,
                             "encoding": encoding_label(table.encoding)})


def _issues_view(issues: pd.DataFrame) -> None:
    st.plotly_chart(charts.issues_by_rule_figure(issues), key=keys.NB_ISSUES_CHART)
    left, right = st.columns(2)
    fields = left.multiselect("Filter by field", sorted(issues["field"].astype(str).unique()),
                              key=keys.NB_ISSUE_FIELDS)
    codes = right.multiselect("Filter by rule", sorted(issues["code"].astype(str).unique()),
                              key=keys.NB_ISSUE_RULES)
    shown = model.filter_issues(issues, fields=fields, codes=codes)
    if len(shown) > ISSUE_TABLE_LIMIT:
        st.caption(f"Showing the first {ISSUE_TABLE_LIMIT:,} of {len(shown):,} issues; "
                   "download them all below.")
    st.dataframe(shown.head(ISSUE_TABLE_LIMIT), hide_index=True, key=keys.NB_ISSUE_TABLE)
    # Through exports.py: cell values in the issue table are the operator's own text, and a
    # "=HYPERLINK(…)" in a cell must not become a live formula in Excel.
    st.download_button("Download all issues (CSV)", data=exports.to_csv_bytes(shown),
                       file_name="issues.csv", mime="text/csv", key=keys.NB_ISSUES_DOWNLOAD)


def _fixer(fixed: pd.DataFrame, result: Any, mapping: dict[str, str]) -> None:
    st.subheader("Fix failing rows and check warned ones")
    find = st.number_input("Find a row (its number in Excel) to edit it", min_value=2,
                           value=None, step=1, key=keys.NB_FIND_ROW)
    wanted = None if find is None else int(find)
    if wanted is not None and wanted not in fixed.index:
        st.caption(f"Row {wanted:,} is not in the file.")
        wanted = None
    failing = review_model.rows_frame(fixed, review_model.editable_rows(result, wanted),
                                      list(dict.fromkeys(mapping.values())))
    pages = model.page_count(len(failing))
    page = 1
    if pages > 1:
        page = int(st.number_input(
            f"Page of failing rows (1–{pages}, {model.PAGE_SIZE} rows each)",
            min_value=1, max_value=pages, step=1, key=keys.NB_FIX_PAGE,
        ))
    part = model.editor_page(failing, model.problems_by_row(
        pd.concat([result.issues, result.warnings], ignore_index=True)), page)
    st.session_state[keys.NB_EDITOR_PAGE_FRAME] = part
    generation = int(st.session_state.get(keys.NB_EDITOR_GEN, 0))
    st.caption("Edit the original cells, then apply: the whole file is validated again. "
               "The row number is the one you see in Excel.")
    st.data_editor(
        part, key=keys.editor_key(generation), disabled=[model.PROBLEMS_COLUMN],
        num_rows="fixed",
        column_config={model.PROBLEMS_COLUMN: st.column_config.TextColumn(width="large")},
    )
    left, right = st.columns(2)
    left.button("Apply fixes and validate again", key=keys.NB_APPLY_FIXES, type="primary",
                on_click=_apply_fixes)
    if st.session_state.get(keys.NB_FIXES):
        count = len(st.session_state[keys.NB_FIXES])
        right.button(f"Undo all fixes ({count} rows)", key=keys.NB_CLEAR_FIXES,
                     on_click=_clear_fixes)


def _apply_fixes() -> None:
    generation = int(st.session_state.get(keys.NB_EDITOR_GEN, 0))
    edits = st.session_state.get(keys.editor_key(generation)) or {}
    page = st.session_state.get(keys.NB_EDITOR_PAGE_FRAME)
    if page is None or not edits.get("edited_rows"):
        return
    st.session_state[keys.NB_FIXES] = model.edits_to_fixes(
        page, edits["edited_rows"], st.session_state.get(keys.NB_FIXES, {})
    )
    st.session_state[keys.NB_EDITOR_GEN] = generation + 1  # a fresh editor on the new data
    st.session_state.pop(keys.editor_key(generation), None)


def _clear_fixes() -> None:
    st.session_state.pop(keys.NB_FIXES, None)
    st.session_state[keys.NB_EDITOR_GEN] = int(st.session_state.get(keys.NB_EDITOR_GEN, 0)) + 1


# --- 5. review & 6. submit ------------------------------------------------------------------


def _review_and_submit(
    engine: Engine, bt: BatchType, table: Any, held: model.HeldFile, fixed: pd.DataFrame,
    result: Any, mapping: dict[str, str],
) -> None:
    key = _result_key(held, table, bt, mapping)
    review, planned, report = review_view.render(
        engine.payloads, bt, held.fingerprint, result, mapping, key, attempt=_attempt,
        cached=_cached)
    st.header("6. Submit")
    _submit(engine, bt, table, held, fixed, mapping, review.impact, planned.plan, report, result)


def _approval_rules() -> approvals.ApprovalRules:
    return review_view.approval_rules()


def _submit(
    engine: Engine, bt: BatchType, table: Any, held: model.HeldFile, fixed: pd.DataFrame,
    mapping: dict[str, str], impact: Any, plan: Any, report: guards.DuplicateReport,
    result: Any,
) -> None:
    connection = services.get_connection()
    error = st.session_state.pop(keys.NB_SUBMIT_ERROR, None)
    if error:
        st.error(error)
    if engine.jobs is None:
        st.warning("Submitting is not available in this build (the job service is missing).")
        return
    missing: list[str] = []  # what a disabled Submit is waiting for, said next to it
    override: str | None = None
    if report.blocked:
        if not st.checkbox("Send anyway (I checked the earlier jobs and rows)",
                           key=keys.NB_OVERRIDE_SENT):
            missing.append("tick “Send anyway” (this file or its rows were sent before)")
        override = st.text_input("Why send it again? (recorded in the audit log)",
                                 key=keys.NB_OVERRIDE_REASON).strip()
        if not override:
            missing.append("give the reason for sending it again")
    where = "PRODUCTION" if connection.is_production else "the sandbox"
    if not st.checkbox(
        f"I have reviewed the {plan.row_count:,} rows, the totals and the first item, and "
        f"want to send them to {where} as {bt.title}.",
        key=keys.NB_CONFIRM,
    ):
        missing.append("tick “I have reviewed …” above")
    if connection.is_production:
        word = model.confirmation_word(plan.row_count)
        typed = st.text_input(f"Type the number of rows ({word}) to confirm",
                              key=keys.NB_CONFIRM_TEXT)
        if not model.confirmation_matches(typed, plan.row_count):
            missing.append(f"type the number of rows ({word}) in the confirmation box")
    when = schedule_view.send_time()  # send now, or at a time (schedule_view.py)
    if not when.ok:
        missing.append("choose a time to send at that the scheduler accepts (see above)")
    ready = not missing
    needs_approval = bool(approvals.approval_reasons(impact, _approval_rules()))
    label = (f"Submit {plan.row_count:,} rows for approval" if needs_approval
             else f"Submit {plan.row_count:,} rows to {where}")
    clicked = st.button(label, key=keys.NB_SUBMIT, type="primary", disabled=not ready)
    why_disabled(f"To submit: {'; '.join(missing)}." if missing else None)
    if not clicked or not ready:
        return
    # Storing a million rows takes seconds (bench/README.md, Submission): say what happens.
    with st.spinner(f"Storing {plan.row_count:,} rows and {len(plan.chunks):,} chunks in the "
                    "job ledger…"):
        job_id = _create_job(table, held, fixed, mapping, impact, plan, report, result,
                             override, when.at)
    if job_id is None:
        st.rerun()
    _start_over()
    st.session_state[keys.NB_LAST_JOB] = job_id
    st.switch_page(routing.page("jobs"), query_params={keys.JOB_QUERY_PARAM: job_id})


def _fixes_entry(original: pd.DataFrame) -> list[tuple[str, dict[str, Any]]]:
    """The inline fixes, before and after, for the job's history (none: no entry)."""
    fixes: model.Fixes = st.session_state.get(keys.NB_FIXES, {})
    entries = job_service.fix_entries(original, fixes)
    return [("file.fixes", {"fixes": entries, "count": len(entries)})] if entries else []


def _create_job(
    table: Any, held: model.HeldFile, fixed: pd.DataFrame, mapping: dict[str, str],
    impact: Any, plan: Any, report: guards.DuplicateReport, result: Any, override: str | None,
    scheduled_at: float | None = None,
) -> str | None:
    """The job, through the one submission path (guards, approval rules, audit)."""
    try:
        submission = approval_flow.submit(
            services.get_ledger(), plan, impact=impact, frame=fixed, file_name=held.name,
            fingerprint=held.fingerprint, mapping=mapping, actor=frame.identity().actor,
            sheet=table.sheet, rules=_approval_rules(), duplicates=report,
            keys=_cached("row_keys", _result_key(held, table, result.batch_type, mapping),
                         lambda: guards.business_keys(result, mapping)),
            override_reason=override, target=services.get_connection().target,
            scheduled_at=scheduled_at, audit=_fixes_entry(table.frame),
            # Rows left out at validation stay with the job as "not sent", with why.
            left_out=job_service.left_out_reasons(result.issues, result.clean.index,
                                                  fixed.index),
            reading=_reading_text(table, result),
        )
    except (guards.DuplicatesBlocked, schedule.ScheduleError) as exc:
        st.session_state[keys.NB_SUBMIT_ERROR] = str(exc)
        return None
    except Exception as exc:
        log.exception("creating the job failed")
        st.session_state[keys.NB_SUBMIT_ERROR] = (
            f"The job could not be created ({exc}). Nothing was sent. Try again; if it keeps "
            "failing, check the ledger file's disk space and permissions."
        )
        return None
    return submission.job_id
