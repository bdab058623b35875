"""Every ``st.session_state`` key of the console, as constants in one place.

Pages, the shared UI helpers and the tests (AppTest and Playwright) read keys from here
so that a renamed key breaks loudly instead of silently creating a second value. Widget
keys double as the handles tests use: ``at.selectbox(key=NB_TYPE)``.

This module must not import streamlit: it is only names.
"""

from __future__ import annotations

# --- URL --------------------------------------------------------------------------------
JOB_QUERY_PARAM = "job"  # ?job=<id> on the jobs page: a refresh or shared link opens it

# --- frame ------------------------------------------------------------------------------
FRAME_LOGIN = "frame.login"  # button: sign in (production with [auth] configured)

# --- new batch: choose ------------------------------------------------------------------
NB_TYPE = "nb.type"  # selectbox: batch type slug
NB_TEMPLATE_CSV = "nb.template_csv"  # download button
NB_TEMPLATE_XLSX = "nb.template_xlsx"  # download button

# --- new batch: upload ------------------------------------------------------------------
NB_UPLOAD = "nb.upload"  # st.file_uploader key = NB_UPLOAD + "." + generation (upload_key)
NB_UPLOAD_GEN = "nb.upload_gen"  # int, bumped by "Start over" so the uploader empties too
# The held file, an ``intake_model.HeldFile`` (name + bytes). The uploader's on_change
# fills it; tests and benchmarks may set it directly (the documented upload hook).
NB_FILE = "nb.file"
NB_SHEET = "nb.sheet"  # selectbox: worksheet of a workbook
# set[(fingerprint, name, sheet)] already in the audit log for the held file: each read is
# recorded once, not on every rerun; a new upload starts a new set.
NB_UPLOAD_AUDITED = "nb.upload_audited"

# --- new batch: map ---------------------------------------------------------------------
NB_MAP_PREFIX = "nb.map."  # one selectbox per field: NB_MAP_PREFIX + field path
NO_COLUMN = "— not mapped —"  # the selectbox choice for "this field has no column"
NB_MAPPING_LOAD = "nb.mapping_load"  # selectbox: a saved mapping to apply
NB_MAPPING_APPLY = "nb.mapping_apply"  # button
NB_MAPPING_NAME = "nb.mapping_name"  # text input: name to save the mapping under
NB_MAPPING_SAVE = "nb.mapping_save"  # button
NB_DATE_ORDER = "nb.date_order"  # selectbox: auto / day-first / month-first
NB_HEADER_ROW = "nb.header_row"  # number input: the header's sheet row (None = find it)
NB_DECIMAL = "nb.decimal"  # selectbox: "dot" / "comma" decimal mark
NB_DECIMAL_ACCEPT = "nb.decimal_accept"  # button: "read it with decimal commas"
NB_KIND_PREFIX = "nb.kind."  # selectbox per custom/metadata column: prefix + field path
NB_MAP_CONTEXT = "nb.map_context"  # (slug, fingerprint, sheet) the selectboxes were filled for

# --- new batch: validate & fix -----------------------------------------------------------
NB_ISSUE_FIELDS = "nb.issue_fields"  # multiselect filter on the issue table
NB_ISSUE_RULES = "nb.issue_rules"  # multiselect filter on the issue table
NB_FIX_PAGE = "nb.fix_page"  # number input: page of failing rows in the editor
NB_EDITOR_PREFIX = "nb.editor."  # data_editor key = prefix + generation (see editor_key)
NB_EDITOR_GEN = "nb.editor_gen"  # int, bumped after fixes are applied (fresh editor)
NB_APPLY_FIXES = "nb.apply_fixes"  # button: apply the editor's edits and re-validate
NB_CLEAR_FIXES = "nb.clear_fixes"  # button: forget every inline fix
NB_FIXES = "nb.fixes"  # dict[row, dict[header, text]]: inline fixes, applied before mapping
NB_EDITOR_PAGE_FRAME = "nb.editor_page_frame"  # the page of failing rows the editor shows
NB_DROP_INVALID = "nb.drop_invalid"  # checkbox: send only the valid rows

# --- new batch: review & submit ----------------------------------------------------------
NB_OVERRIDE_SENT = "nb.override_sent"  # checkbox: send a file (or rows) already sent before
NB_OVERRIDE_REASON = "nb.override_reason"  # text input: why (audited); needed with the above
NB_DUPLICATE_ROWS = "nb.duplicate_rows"  # st.dataframe: rows matching rows sent before
NB_CONFIRM = "nb.confirm"  # checkbox: "I have reviewed …"
NB_CONFIRM_TEXT = "nb.confirm_text"  # text input: typed confirmation (production)
NB_SUBMIT = "nb.submit"  # button
NB_SUBMIT_ERROR = "nb.submit_error"  # str: the last submission failure, shown once
NB_LAST_JOB = "nb.last_job"  # str: id of the job this session submitted last
NB_RESET = "nb.reset"  # button: start over

# Display elements with keys (tables, charts, downloads) of the validate and review steps.
NB_WHOLE_FILE = "nb.whole_file"  # st.dataframe: the whole file, read-only
NB_ISSUES_CHART = "nb.issues_chart"  # plotly: issues by rule
NB_ISSUE_TABLE = "nb.issue_table"  # st.dataframe: the filtered issue table
NB_ISSUES_DOWNLOAD = "nb.issues_download"  # download button: every issue as CSV
NB_HIST_PREFIX = "nb.hist."  # plotly histogram per money/points field: prefix + field path
NB_LARGEST_ROWS = "nb.largest_rows"  # st.dataframe
NB_WARNINGS_TABLE = "nb.warnings_table"  # st.dataframe: non-blocking warnings

# Working values the page derives and caches (never widgets).
NB_CACHE = "nb.cache"  # intake_model.IntakeCache: table/validation by fingerprint+mapping

# --- settings page -----------------------------------------------------------------------
ST_TEST_CONNECTION = "st.test_connection"  # button
ST_CONNECTION_RESULT = "st.connection_result"  # intake of the last test: (ok, message)
ST_CONCURRENCY = "st.concurrency"  # number input
ST_RATE = "st.rate"  # number input (requests per second)
ST_APPLY_LIMITS = "st.apply_limits"  # button
ST_SANDBOX_RESET = "st.sandbox_reset"  # button
ST_SEED_COUNT = "st.seed_count"  # number input
ST_SEED = "st.seed"  # button
ST_FAULT_ERROR_AFTER = "st.fault_error_after"  # number input, probability 0..1
ST_FAULT_ERROR_BEFORE = "st.fault_error_before"  # number input
ST_FAULT_DROP_AFTER = "st.fault_drop_after"  # number input
ST_FAULT_RATE_LIMIT_NEXT = "st.fault_rate_limit_next"  # number input
ST_FAULT_LATENCY = "st.fault_latency"  # number input, seconds
ST_FAULT_APPLY = "st.fault_apply"  # button
ST_FAULT_CLEAR = "st.fault_clear"  # button
ST_SANDBOX_RATE = "st.sandbox_rate"  # number input, items per second
ST_SANDBOX_RATE_APPLY = "st.sandbox_rate_apply"  # button
ST_FLASH = "st.flash"  # (kind, message) shown once after an action


def editor_key(generation: int) -> str:
    """The data_editor's key for a generation: a new generation is a fresh editor."""
    return f"{NB_EDITOR_PREFIX}{generation}"


def upload_key(generation: int) -> str:
    """The file uploader's key for a generation: "Start over" moves to a fresh uploader."""
    return f"{NB_UPLOAD}.{generation}"


def map_key(path: str) -> str:
    """The mapping selectbox key of one field."""
    return NB_MAP_PREFIX + path
