"""Duplicate guards: has this file, or have these rows, been sent before?

Two guards block a submission until the operator overrides them with a reason (audited):

* **same file** — the exact bytes (fingerprint) were already sent as the same batch type;
* **same rows** — a row's business key (the type's ``key_fields``: customer, amount,
  transaction id or time…) matches a row of an earlier job, created in the last N days
  (``[guards] duplicate_days`` in secrets.toml, default 30), that was applied or may still
  apply (pending or in doubt). Rejected jobs and failed rows do not count.

* **same id** — a transaction id (cashback, redemptions) or order id (orders) was used by
  any earlier job of the same target, whatever its amount and however long ago: Gameball
  keeps the first and refuses the rest with 9004, so a second file reusing an id with a new
  amount would otherwise be reported "applied" for an amount Gameball never took.

Every guard is scoped to the target (sandbox or production account, DESIGN.md §9): a
sandbox rehearsal never blocks, nor hides, a production send.

Business keys are stored with each job when it is created (one record per job, with each
key's row and chunk: ``ledger/rowsets.py``), so a lookup matches a new file's keys against
each earlier job's keys column-wise, never a scan of stored cells. Idempotent types (customer
upserts, balance inquiries) have no row guard: sending them twice changes nothing.

This module must not import streamlit or send anything; the console and the CLI show the
:class:`DuplicateReport` and ask for the override.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gameball_batch import ledger as lg
from gameball_batch.batch_types import BatchType
from gameball_batch.ledger import Ledger

if TYPE_CHECKING:
    from gameball_batch.validate import ValidationResult

DEFAULT_DAYS = 30
KEY_SEPARATOR = "\x1f"  # unit separator: never typed into a spreadsheet cell
# Rows that were applied, or may still be: pending (queued, awaiting approval) or in doubt.
LIVE_ROW_STATUSES = (lg.ROW_APPLIED, lg.ROW_PENDING, lg.ROW_UNKNOWN)
MATCH_LIMIT = 1000  # matching rows read back: enough to show and count "at least"
OVERRIDE_ACTION = "duplicates.override"


class DuplicatesBlocked(ValueError):
    """Submission refused: duplicates found and no override reason given."""


@dataclass(frozen=True)
class RowMatch:
    """A row of this file whose business key matches a row of an earlier job."""

    row: int  # source row in this file
    job_id: str
    earlier_row: int
    at: float  # when the earlier job was created
    key: tuple[str, ...]  # the matching values, in key_fields order


@dataclass(frozen=True)
class IdMatch:
    """A row of this file whose transaction or order id an earlier job already used."""

    row: int
    id: str
    job_id: str
    earlier_row: int
    earlier_status: str


@dataclass(frozen=True)
class DuplicateReport:
    """What the guards found; ``blocked`` when the operator must override."""

    batch_type: BatchType
    days: int
    earlier_jobs: tuple[lg.Job, ...] = ()
    row_matches: tuple[RowMatch, ...] = ()
    key_fields: tuple[str, ...] = ()
    truncated: bool = False  # more matches exist than were read
    id_matches: tuple[IdMatch, ...] = ()

    @property
    def blocked(self) -> bool:
        return bool(self.earlier_jobs or self.row_matches or self.id_matches)

    @property
    def matched_rows(self) -> tuple[int, ...]:
        return tuple(sorted({m.row for m in self.row_matches}))

    def lines(self, *, limit: int = 5) -> list[str]:
        """Operator-facing sentences, with a few example rows."""
        out: list[str] = []
        if self.earlier_jobs:
            first = self.earlier_jobs[0]
            out.append(
                f"This exact file was already sent as {self.batch_type.title} in "
                f"{len(self.earlier_jobs)} earlier job(s) (latest: job {first.id}, "
                f"{first.state}, by {first.actor or 'unknown'})."
            )
        if self.row_matches:
            count = len(self.matched_rows)
            more = "At least " if self.truncated else ""
            out.append(
                f"{more}{count:,} row(s) match rows "
                f"sent in the last {self.days} days (same {', '.join(self.key_fields)}):"
            )
            for m in self.row_matches[:limit]:
                values = ", ".join(f"{f}={v}" for f, v in zip(self.key_fields, m.key,
                                                              strict=False))
                out.append(f"  row {m.row} ({values}) = row {m.earlier_row} of job {m.job_id}")
            if len(self.row_matches) > limit:
                out.append(f"  … and {len(self.row_matches) - limit:,} more.")
        if self.id_matches:
            name = self.batch_type.result_key
            out.append(
                f"{len({m.row for m in self.id_matches}):,} row(s) reuse a {name} that an "
                "earlier job already sent; Gameball keeps the first and refuses the rest "
                "(9004), whatever the amount:")
            for im in self.id_matches[:limit]:
                out.append(f"  row {im.row} ({name}={im.id}) = row {im.earlier_row} of job "
                           f"{im.job_id} ({im.earlier_status})")
            if len(self.id_matches) > limit:
                out.append(f"  … and {len(self.id_matches) - limit:,} more.")
        return out

    def matches_frame(self) -> pd.DataFrame:
        """The row matches as a table (source row first), for the console."""
        data: dict[str, list[Any]] = {"row": [m.row for m in self.row_matches]}
        for i, name in enumerate(self.key_fields):
            data[name] = [m.key[i] if i < len(m.key) else "" for m in self.row_matches]
        data["earlier job"] = [m.job_id for m in self.row_matches]
        data["earlier row"] = [m.earlier_row for m in self.row_matches]
        frame = pd.DataFrame(data)
        frame["sent"] = pd.to_datetime([m.at for m in self.row_matches], unit="s", utc=True)
        return frame

    def summary(self) -> dict[str, Any]:
        """What the audit log keeps about an override."""
        return {
            "earlier_jobs": [j.id for j in self.earlier_jobs[:20]],
            "matched_rows": len(self.matched_rows),
            "example_rows": list(self.matched_rows[:20]),
            "days": self.days,
            "id_matches": [{"row": m.row, "id": m.id, "job_id": m.job_id,
                            "earlier_row": m.earlier_row} for m in self.id_matches[:20]],
        }


def duplicate_days(settings_extra: Mapping[str, Any]) -> int:
    """The row guard's window from ``[guards] duplicate_days`` (default 30)."""
    section = settings_extra.get("guards")
    raw = section.get("duplicate_days", DEFAULT_DAYS) if isinstance(section, Mapping) else None
    if raw is None:
        return DEFAULT_DAYS
    try:
        days = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"[guards] duplicate_days must be a whole number, got '{raw}'.") from None
    if days < 0:
        raise ValueError(f"[guards] duplicate_days must be 0 or more, got {days}.")
    return days


def key_fields_for(bt: BatchType, mapping: Mapping[str, str]) -> tuple[str, ...]:
    """The fields of the business key for this file; () when the type needs no row guard.

    A generated transaction id (no column mapped to it) is left out: it differs between
    two files holding the same rows, so customer, amount and time identify the row instead.
    """
    if bt.idempotent:
        return ()
    fields = tuple(f for f in bt.key_fields if not (f == bt.generated_key and f not in mapping))
    return fields


def business_keys(result: ValidationResult, mapping: Mapping[str, str]) -> pd.Series:
    """One key text per valid row (index = source row); empty when the type has no guard.

    Built column by column in arrow (a million rows in well under a second); the text of
    every cell is exactly :func:`_key_text` of it, so keys stored by earlier versions match.
    """
    bt, clean = result.batch_type, result.clean
    fields = key_fields_for(bt, mapping)
    if not fields or clean.empty:
        return pd.Series([], dtype=object, index=pd.Index([], dtype="int64", name="row"))
    columns = [_key_texts(clean[name]) if name in clean.columns
               else pa.array([""] * len(clean), type=pa.string()) for name in fields]
    joined = pc.binary_join_element_wise(bt.slug, *columns, KEY_SEPARATOR)
    return pd.Series(joined.to_numpy(zero_copy_only=False), index=clean.index, dtype=object)


# Exactly the characters ``str.strip()`` removes (``str.isspace``), for arrow's trim.
_PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _key_texts(column: pd.Series) -> pa.Array:
    """:func:`_key_text` of every cell of ``column``, as an arrow string array."""
    if pd.api.types.is_float_dtype(column.dtype):
        # Amounts repeat: format each distinct value once.
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        texts = pa.array([_key_text(float(u)) for u in uniques], type=pa.string())
        return pc.fill_null(texts.take(pa.array(codes, mask=codes < 0)), "")
    if isinstance(column.dtype, pd.StringDtype) or column.dtype == object:
        try:
            text = pa.array(column, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: the general path
            text = None
        if text is not None:
            return pc.utf8_trim(pc.fill_null(text, ""), characters=_PY_WHITESPACE)
    return pa.array([_key_text(v) for v in column.tolist()], type=pa.string())


def _key_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return repr(round(value, 6))  # 10.5 and 10.50 read from two files are one amount
    return str(value).strip()


def split_key(key: str) -> tuple[str, ...]:
    """The field values of a stored key (without the slug)."""
    return tuple(key.split(KEY_SEPARATOR)[1:])


def check(
    ledger: Ledger, *, batch_type: BatchType, fingerprint: str,
    keys: pd.Series | Callable[[], pd.Series],
    key_fields: tuple[str, ...], days: int = DEFAULT_DAYS,
    clock: Callable[[], float] = time.time, target: lg.Target | None = None,
    ids: pd.Series | None = None,
) -> DuplicateReport:
    """Run the guards for a file about to be sent, against earlier jobs of ``target``.

    ``keys`` may be a function that builds them (:func:`business_keys`): it is called only
    when a recent job of the same type could hold a match. ``ids``: the file's transaction
    or order ids (index = source row), for the id guard.
    """
    earlier = tuple(j for j in ledger.jobs(fingerprint=fingerprint, batch_type=batch_type.slug,
                                           target=target)
                    if j.state != lg.JOB_REJECTED)  # a rejected job sent nothing
    matches: list[RowMatch] = []
    truncated = False
    since = clock() - days * 86_400
    if days > 0 and _recent_job(ledger, batch_type, since):
        if callable(keys):
            keys = keys()
        # Every distinct key at once: each earlier job's keys are one record, matched
        # column-wise against all of them (per batch, each record would be read again).
        found = ledger.find_row_keys(
            keys.drop_duplicates().tolist(), since=since, statuses=LIVE_ROW_STATUSES,
            exclude_job_states=(lg.JOB_REJECTED,), limit=MATCH_LIMIT + 1, target=target,
        )
        rows_by_key = _rows_of(keys, {bkey for bkey, *_ in found})
        for bkey, job_id, earlier_row, at in found:
            for row in rows_by_key[bkey]:
                matches.append(RowMatch(row, job_id, earlier_row, at, split_key(bkey)))
        if len(matches) > MATCH_LIMIT:
            truncated = True
        matches.sort(key=lambda m: (m.row, -m.at))
    return DuplicateReport(
        batch_type=batch_type, days=days, earlier_jobs=earlier,
        row_matches=tuple(matches[:MATCH_LIMIT]), key_fields=key_fields, truncated=truncated,
        id_matches=id_matches(ledger, batch_type, ids, target=target),
    )


def file_ids(result: ValidationResult) -> pd.Series:
    """The file's own transaction or order ids (index = source row); empty when the type
    has none. Generated ids count too: they derive from the file, so a re-sent file
    carries the same ones."""
    bt, clean = result.batch_type, result.clean
    if bt.slug not in lg.ID_SCOPES or bt.result_key not in clean.columns:
        return pd.Series([], dtype=object, index=pd.Index([], dtype="int64", name="row"))
    return clean[bt.result_key].astype(str).str.strip()


def id_matches(ledger: Ledger, bt: BatchType, ids: pd.Series | None, *,
               target: lg.Target | None) -> tuple[IdMatch, ...]:
    """Rows whose id an earlier job of the same target used (any amount, any age)."""
    if ids is None or ids.empty or bt.slug not in lg.ID_SCOPES:
        return ()
    if not ledger.jobs(batch_type=bt.slug, limit=1):  # no earlier job of this type at all
        return ()
    # Distinct ids hashed column-wise: a million rows never become a million dict entries
    # (that alone took ~2 s of a 1M-row review, most of it with nothing to find).
    hits = ledger.find_ids(bt.slug, ids.drop_duplicates().tolist(), target=target,
                           statuses=LIVE_ROW_STATUSES, limit=MATCH_LIMIT + 1)
    if not hits:
        return ()
    earlier: dict[str, list[tuple[str, int, str]]] = {}
    for value, job_id, earlier_row, status in hits:
        earlier.setdefault(value, []).append((job_id, earlier_row, status))
    mine = ids[ids.isin(list(earlier))]
    found = [IdMatch(int(row), str(value), job_id, earlier_row, status)
             for row, value in zip(mine.index.tolist(), mine.tolist(), strict=True)
             for job_id, earlier_row, status in earlier[str(value)]]
    found.sort(key=lambda m: m.row)
    return tuple(found[:MATCH_LIMIT])


def _recent_job(ledger: Ledger, batch_type: BatchType, since: float) -> bool:
    """Whether a job of this type was created since ``since``.

    A stored key starts with its type's slug and carries its job's creation time, so without
    such a job no row can match: the lookup of a million keys is skipped.
    """
    newest = next(iter(ledger.jobs(batch_type=batch_type.slug, limit=1)), None)
    return newest is not None and newest.created_at >= since


def _rows_of(keys: pd.Series, wanted: set[str]) -> dict[str, list[int]]:
    """Source rows of each key in ``wanted`` (a few keys out of possibly a million)."""
    out: dict[str, list[int]] = {key: [] for key in wanted}
    if wanted:
        hit = keys[keys.isin(list(wanted))]
        for row, key in zip(hit.index.tolist(), hit.tolist(), strict=True):
            out[key].append(int(row))
    return out


def require_override(report: DuplicateReport, reason: str | None) -> str | None:
    """The cleaned override reason; raises :class:`DuplicatesBlocked` when one is needed."""
    if not report.blocked:
        return None
    cleaned = (reason or "").strip()
    if not cleaned:
        raise DuplicatesBlocked(
            "\n".join([*report.lines(), "Sending needs an override with a reason, which is "
                       "recorded in the audit log."])
        )
    return cleaned


def stored_keys(keys: pd.Series) -> lg.KeyColumns:
    """Source rows and their business keys, column-wise, to store with the job for later
    guards."""
    return lg.KeyColumns(keys.index.to_numpy(dtype="int64"),
                         pa.array(keys.astype(str), type=pa.string(), from_pandas=True))


def override_entry(report: DuplicateReport,
                   override_reason: str | None) -> tuple[str, dict[str, Any]] | None:
    """The audit entry of an override (action, detail), stored with the job; None without."""
    if report.blocked and override_reason:
        return OVERRIDE_ACTION, {"reason": override_reason, **report.summary()}
    return None

