"""A file as the console prepares it (read, mapped, validated, planned, assessed), for tests
of what happens when it is submitted: duplicate guards and approvals."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from gameball_batch import (
    approval_flow,
    batch_types,
    guards,
    impact,
    ingest,
    mapping,
    templates,
    validate,
)
from gameball_batch.approvals import ApprovalRules
from gameball_batch.batch_types import BatchType
from gameball_batch.exports import to_csv_bytes
from gameball_batch.ledger import Ledger
from gameball_batch.payloads import ChunkPlan, plan_chunks


@dataclass
class Prepared:
    bt: BatchType
    table: ingest.Table
    mapping: dict[str, str]
    result: validate.ValidationResult
    plan: ChunkPlan
    impact: impact.Impact

    @property
    def keys(self) -> pd.Series:
        return guards.business_keys(self.result, self.mapping)

    def report(self, ledger: Ledger, **options: object) -> guards.DuplicateReport:
        return guards.check(
            ledger, batch_type=self.bt, fingerprint=self.table.fingerprint, keys=self.keys,
            key_fields=guards.key_fields_for(self.bt, self.mapping), **options,  # type: ignore[arg-type]
        )

    def submit(
        self, ledger: Ledger, *, actor: str = "ops@shop.example",
        rules: ApprovalRules | None = None, override: str | None = None,
    ) -> approval_flow.Submission:
        return approval_flow.submit(
            ledger, self.plan, impact=self.impact, frame=self.table.frame,
            file_name=self.table.name, fingerprint=self.table.fingerprint, mapping=self.mapping,
            actor=actor, rules=rules or ApprovalRules(), duplicates=self.report(ledger),
            keys=self.keys, override_reason=override,
        )


def prepare_bytes(slug: str, data: bytes, name: str = "file.csv") -> Prepared:
    bt = batch_types.get(slug)
    table = ingest.read_table(data, name)
    chosen = mapping.suggest_mapping(bt, [str(c) for c in table.frame.columns]).mapping
    result = validate.validate(bt, mapping.apply_mapping(table.frame, chosen), columns=chosen,
                               id_seed=table.fingerprint)
    assert result.invalid_count == 0, result.issues
    return Prepared(bt, table, chosen, result, plan_chunks(result), impact.assess(result))


def prepare_frame(slug: str, frame: pd.DataFrame, name: str = "file.csv") -> Prepared:
    return prepare_bytes(slug, to_csv_bytes(frame), name)


def example(slug: str) -> Prepared:
    """The type's template rows (valid by construction)."""
    return prepare_frame(slug, templates.example_frame(batch_types.get(slug)))
