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
# (page name, query params) a page file run alone by URL remembers before it hands over to
# app.py (``routing.hand_over``); app.py's router then opens that page with those params.
HANDOVER = "frame.handover"

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
NB_FIND_ROW = "nb.find_row"  # number input: a row (Excel number) to put at the editor's top

# --- new batch: review & submit ----------------------------------------------------------
NB_OVERRIDE_SENT = "nb.override_sent"  # checkbox: send a file (or rows) already sent before
NB_OVERRIDE_REASON = "nb.override_reason"  # text input: why (audited); needed with the above
NB_DUPLICATE_IDS = "nb.duplicate_ids"  # table: ids an earlier job already sent
NB_DUPLICATE_ROWS = "nb.duplicate_rows"  # st.dataframe: rows matching rows sent before
NB_CONFIRM = "nb.confirm"  # checkbox: "I have reviewed …"
NB_CONFIRM_TEXT = "nb.confirm_text"  # text input: typed confirmation (production)
NB_SUBMIT = "nb.submit"  # button
NB_SUBMIT_ERROR = "nb.submit_error"  # str: the last submission failure, shown once
NB_LAST_JOB = "nb.last_job"  # str: id of the job this session submitted last (shown once)
NB_TYPE_LAST = "nb.type_last"  # str: the batch type chosen last; the widget's own value
# is dropped while another page shows, and the next batch starts from this one
NB_RESET = "nb.reset"  # button: start over

# Display elements with keys (tables, charts, downloads) of the validate and review steps.
NB_WHOLE_FILE = "nb.whole_file"  # st.dataframe: the whole file, read-only
NB_SHOW_WHOLE_FILE = "nb.show_whole_file"  # st.toggle: draw the whole file (on request)
NB_ISSUES_CHART = "nb.issues_chart"  # plotly: issues by rule
NB_ISSUE_TABLE = "nb.issue_table"  # st.dataframe: the filtered issue table
NB_ISSUES_DOWNLOAD = "nb.issues_download"  # download button: every issue as CSV
NB_WARNINGS_TABLE = "nb.warnings_table"  # st.dataframe: non-blocking warnings

# Working values the page derives and caches (never widgets).
NB_CACHE = "nb.cache"  # intake_model.IntakeCache: table/validation by fingerprint+mapping

# --- jobs page ---------------------------------------------------------------------------
JB_OPEN = "jb.open"  # selectbox: job to open from the list
JB_OPEN_GO = "jb.open_go"  # button
JB_LIST_TABLE = "jb.list_table"  # dataframe with row selection
JB_F_STATES = "jb.f_states"  # multiselect: filter the list by state
JB_F_TYPES = "jb.f_types"  # multiselect: … by batch type
JB_F_TARGETS = "jb.f_targets"  # multiselect: … by target (sandbox / production account)
JB_F_SUBMITTERS = "jb.f_submitters"  # multiselect: … by who submitted
JB_BACK = "jb.back"  # button: back to the list
JB_ERR_STATUS = "jb.err_status"  # multiselect on the error table
JB_ERR_PAGE = "jb.err_page"  # number input: page of the error table
JB_STOP = "jb.stop"  # button: "Stop sending" (nothing new is sent; accepted chunks finish)
JB_ABORT = "jb.abort"  # button: "Abort at Gameball" (also calls Gameball's stop route)
JB_ABORT_CONFIRM = "jb.abort_confirm"  # checkbox: the abort's confirmation
JB_PAUSE = "jb.pause"
JB_RESUME = "jb.resume"
JB_RETRY = "jb.retry"
JB_RETRY_REVIEW = "jb.retry_review"  # job id whose retry is being reviewed (unsafe types)
JB_RETRY_CONFIRM = "jb.retry_confirm"  # checkbox: the retry's impact was reviewed
JB_RETRY_TYPED = "jb.retry_typed"  # production: the number of items typed to confirm
JB_RETRY_SEND = "jb.retry_send"
JB_RETRY_CANCEL = "jb.retry_cancel"
JB_RESOLVE_CHUNK = "jb.resolve_chunk"  # selectbox: in-doubt chunk (1-based label)
JB_RESOLVE_DECISION = "jb.resolve_decision"  # radio
JB_RESOLVE_REASON = "jb.resolve_reason"  # text input
JB_RESOLVE_CONFIRM = "jb.resolve_confirm"  # checkbox
JB_RESOLVE_GO = "jb.resolve_go"  # button
JB_DL_FAILED_CSV = "jb.dl_failed_csv"
JB_DL_FAILED_XLSX = "jb.dl_failed_xlsx"
JB_DL_RESULTS = "jb.dl_results"
JB_FLASH = "jb.flash"  # (kind, message) shown once after an action
JB_CHART_PROGRESS = "jb.chart_progress"  # plotly
JB_CHART_CHUNKS = "jb.chart_chunks"  # plotly
JB_CHART_FAILURES = "jb.chart_failures"  # plotly

# --- history page ------------------------------------------------------------------------
HI_JOB = "hi.job"  # text input: job id (or its start)
HI_ACTIONS = "hi.actions"  # multiselect
HI_ACTORS = "hi.actors"  # multiselect
HI_DATES = "hi.dates"  # date_input range
HI_EXPORT = "hi.export"  # download button

# --- settings page -----------------------------------------------------------------------
ST_TEST_CONNECTION = "st.test_connection"  # button
ST_CONNECTION_RESULT = "st.connection_result"  # intake of the last test: (ok, message)
ST_CONCURRENCY = "st.concurrency"  # number input
ST_RATE = "st.rate"  # number input (requests per second)
ST_APPLY_LIMITS = "st.apply_limits"  # button
ST_SANDBOX_RESET = "st.sandbox_reset"  # button
ST_SEED_COUNT = "st.seed_count"  # number input
ST_SANDBOX_CUSTOMERS = "st.sandbox_customers"  # dataframe of the sandbox's customers
ST_SANDBOX_CUSTOMERS_CSV = "st.sandbox_customers_csv"  # their CSV download
ST_SEED = "st.seed"  # button
ST_FAULT_ERROR_AFTER = "st.fault_error_after"  # number input, probability 0..1
ST_FAULT_ERROR_BEFORE = "st.fault_error_before"  # number input
ST_FAULT_DROP_AFTER = "st.fault_drop_after"  # number input
ST_FAULT_RATE_LIMIT_NEXT = "st.fault_rate_limit_next"  # number input
ST_FAULT_LATENCY = "st.fault_latency"  # number input, seconds
ST_FAULT_APPLY = "st.fault_apply"  # button
ST_FAULT_CLEAR = "st.fault_clear"  # button
ST_FAULT_SECTION = "st.fault_section"  # expander
ST_FAULT_OPEN = "st.fault_open"  # bool: keep the fault section open after an action in it
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
