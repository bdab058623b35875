"""Four-eyes approval: when a job needs a second person, and what the approval is bound to.

Rules come from the ``[approval]`` section of secrets.toml (see secrets.example.toml). A job
needs approval when its totals or any single row exceed a threshold, or when it deducts
(negative adjustments) or redeems more than a threshold. An approval is bound to a digest
of the exact content — file fingerprint, mapping, row count and totals — so any change
voids it, and nobody approves their own job.

Pure functions: storing approvals is the ledger's job, showing them the console's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from gameball_batch.impact import Impact


class ApprovalRefused(ValueError):
    """The approval cannot be given; the message says why."""


@dataclass(frozen=True)
class ApprovalRules:
    """Thresholds above which a job waits for an approver. ``None`` disables a rule."""

    total_amount_over: float | None = None
    total_points_over: float | None = None
    row_amount_over: float | None = None
    row_points_over: float | None = None
    negative_adjustments_over: float | None = None  # total deducted, as a positive number
    redemptions_over: float | None = None  # total redeemed amount or points

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> ApprovalRules:
        """Read the ``[approval]`` section; unknown keys are refused so typos never pass."""
        raw = raw or {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(
                f"Unknown approval setting(s): {', '.join(unknown)}. "
                f"Known: {', '.join(sorted(known))}."
            )
        return cls(**{k: float(v) for k, v in raw.items() if v is not None})

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


def _over(value: float, limit: float | None) -> bool:
    return limit is not None and value > limit


def approval_reasons(impact: Impact, rules: ApprovalRules) -> list[str]:
    """Why this job needs a second person; empty when it does not."""
    slug = impact.batch_type.slug
    checks: list[tuple[bool, str]] = [
        (
            _over(impact.total_amount, rules.total_amount_over),
            f"total amount {impact.total_amount:,.2f} is over {rules.total_amount_over:,.2f}"
            if rules.total_amount_over is not None
            else "",
        ),
        (
            _over(impact.total_points, rules.total_points_over),
            f"total points {impact.total_points:,.0f} is over {rules.total_points_over:,.0f}"
            if rules.total_points_over is not None
            else "",
        ),
        (
            _over(impact.largest_amount, rules.row_amount_over),
            f"a single row moves {impact.largest_amount:,.2f}, over {rules.row_amount_over:,.2f}"
            if rules.row_amount_over is not None
            else "",
        ),
        (
            _over(impact.largest_points, rules.row_points_over),
            f"a single row moves {impact.largest_points:,.0f} points, over "
            f"{rules.row_points_over:,.0f}"
            if rules.row_points_over is not None
            else "",
        ),
        (
            slug == "adjustments"
            and _over(abs(impact.negative_amount), rules.negative_adjustments_over),
            f"adjustments deduct {abs(impact.negative_amount):,.2f}, over "
            f"{rules.negative_adjustments_over:,.2f}"
            if rules.negative_adjustments_over is not None
            else "",
        ),
        (
            slug == "redemptions"
            and _over(impact.total_amount + impact.total_points, rules.redemptions_over),
            f"redemptions total {impact.total_amount + impact.total_points:,.2f}, over "
            f"{rules.redemptions_over:,.2f}"
            if rules.redemptions_over is not None
            else "",
        ),
    ]
    return [message for hit, message in checks if hit]


def content_digest(
    *, fingerprint: str, mapping: Mapping[str, str], row_count: int, totals: Mapping[str, float]
) -> str:
    """A digest of exactly what was reviewed; any change to the content changes it."""
    canonical = json.dumps(
        {
            "fingerprint": fingerprint,
            "mapping": dict(sorted(mapping.items())),
            "rows": row_count,
            "totals": {k: round(float(v), 6) for k, v in sorted(totals.items())},
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_approval(
    *, submitter: str, approver: str, approved_digest: str, current_digest: str
) -> None:
    """Raise :class:`ApprovalRefused` unless this approval may stand."""
    if approver.strip().lower() == submitter.strip().lower():
        raise ApprovalRefused(
            "You submitted this job, so you cannot approve it. Ask another approver."
        )
    if approved_digest != current_digest:
        raise ApprovalRefused(
            "The job changed after it was reviewed (file, mapping, rows or totals), so the "
            "approval no longer applies. Review and approve it again."
        )
