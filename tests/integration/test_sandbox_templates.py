"""Every batch type's template file runs cleanly against a freshly seeded sandbox.

The path is the operator's: ``template SLUG`` writes the file, then ingest → mapping →
validate → payloads build the requests, and the sandbox must accept every item. Skipped
until the intake modules and the ``template`` command exist.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from gameball_batch import ingest, mapping, payloads, validate
from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.cli import main
from gameball_batch.sandbox import SandboxServer


@pytest.mark.parametrize("slug", list(BATCH_TYPES))
def test_the_template_applies_without_a_single_failed_item(
    sandbox: SandboxServer, tmp_path: Path, slug: str
) -> None:
    bt = BATCH_TYPES[slug]
    path = tmp_path / f"{slug}.csv"
    written = CliRunner().invoke(main, ["template", slug, "--format", "csv", "-o", str(path)])
    assert written.exit_code == 0, written.output
    table = ingest.read_table(path.read_bytes(), path.name)
    suggestion = mapping.suggest_mapping(bt, list(table.frame.columns))
    assert not suggestion.unmapped_required
    mapped = mapping.apply_mapping(table.frame, suggestion.mapping)
    result = validate.validate(bt, mapped, columns=suggestion.mapping, id_seed=table.fingerprint)
    assert result.invalid_count == 0, result.issues.to_string()
    plan = payloads.plan_chunks(result)
    assert plan.item_count > 0
    headers = {"APIKey": sandbox.api_key, "SecretKey": sandbox.secret_key,
               "Content-Type": "application/json"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=10) as http:
        for chunk in plan.chunks:
            created = http.post(bt.path, content=chunk.payload)
            assert created.status_code == 200, created.text
            status = http.get(f"/api/v4.0/integrations/batch/{created.json()['jobId']}").json()
            assert status["response"]["failed"] == []
            assert status["finishedCount"] == len(chunk.keys)
