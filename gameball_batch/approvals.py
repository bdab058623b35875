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


def approval_reasons(impact: Impact, rules: ApprovalRules) -> list[str]:
    """Why this job needs a second person; empty when it does not."""
    slug = impact.batch_type.slug
    deducted = abs(impact.negative_amount) if slug == "adjustments" else 0.0
    redeemed = impact.total_amount + impact.total_points if slug == "redemptions" else 0.0
    checks: tuple[tuple[float, float | None, str], ...] = (
        (impact.total_amount, rules.total_amount_over, "total amount {v:,.2f} is over {t:,.2f}"),
        (impact.total_points, rules.total_points_over, "total points {v:,.0f} is over {t:,.0f}"),
        (impact.largest_amount, rules.row_amount_over, "one row moves {v:,.2f}, over {t:,.2f}"),
        (
            impact.largest_points,
            rules.row_points_over,
            "one row moves {v:,.0f} points, over {t:,.0f}",
        ),
        (deducted, rules.negative_adjustments_over, "adjustments deduct {v:,.2f}, over {t:,.2f}"),
        (redeemed, rules.redemptions_over, "redemptions total {v:,.2f}, over {t:,.2f}"),
    )
    return [text.format(v=v, t=t) for v, t, text in checks if t is not None and v > t]


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
