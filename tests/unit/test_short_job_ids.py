"""Short job ids: the console shows the first 8 characters; the CLI and ``?job=`` accept them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from ledgers import env_ledger

from gameball_batch import jobs
from gameball_batch.cli import main
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow


def add_job(book: Ledger, job_id: str) -> None:
    book.create_job(
        NewJob(id=job_id, batch_type="adjustments", file_name=f"{job_id[:4]}.csv",
               fingerprint="f", sheet=None, mapping={}, columns=("Customer", "Amount"),
               row_count=1, item_count=1, totals={}, actor="amira@example.com"),
        [NewChunk(0, b'{"body":[{"customerId":"cus-1001","amount":5}]}', 1)],
        [NewRow(2, 0, "cus-1001", ("cus-1001", "5"))],
    )


@pytest.fixture
def book() -> Iterator[Ledger]:
    with env_ledger() as ledger:
        add_job(ledger, "1c754ea9-aaaa-4000-8000-000000000001")
        add_job(ledger, "1c754eb0-bbbb-4000-8000-000000000002")
        add_job(ledger, "1c754eb0-cccc-4000-8000-000000000003")
        yield ledger


def test_a_unique_prefix_of_six_or_more_names_its_job(book: Ledger) -> None:
    assert jobs.resolve_job_id(book, "1c754ea9") == "1c754ea9-aaaa-4000-8000-000000000001"
    assert jobs.resolve_job_id(book, "1c754ea") == "1c754ea9-aaaa-4000-8000-000000000001"


def test_the_full_id_always_works(book: Ledger) -> None:
    full = "1c754eb0-cccc-4000-8000-000000000003"
    assert jobs.resolve_job_id(book, full) == full


def test_an_ambiguous_prefix_is_refused_with_the_candidates(book: Ledger) -> None:
    with pytest.raises(jobs.JobError) as caught:
        jobs.resolve_job_id(book, "1c754eb0")
    message = str(caught.value)
    assert "2 jobs" in message
    assert "1c754eb0-bbbb-4000-8000-000000000002" in message
    assert "1c754eb0-cccc-4000-8000-000000000003" in message


def test_a_prefix_shorter_than_six_is_refused(book: Ledger) -> None:
    with pytest.raises(jobs.JobError, match="at least 6"):
        jobs.resolve_job_id(book, "1c75")


def test_cli_commands_taking_a_job_accept_the_short_id(book: Ledger, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["status", "1c754ea9", "--json"])
    assert result.exit_code == 0, result.output
    assert "1c754ea9-aaaa-4000-8000-000000000001" in result.output
    out = tmp_path / "failed.csv"
    result = runner.invoke(main, ["export-failed", "1c754ea9", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()
    result = runner.invoke(main, ["stop", "1c754ea9"])
    assert "Error" not in result.output, result.output


def test_the_cli_refuses_an_ambiguous_short_id_naming_the_candidates(book: Ledger) -> None:
    result = CliRunner().invoke(main, ["status", "1c754eb0"])
    assert result.exit_code == 2
    assert "1c754eb0-bbbb" in result.output
    assert "1c754eb0-cccc" in result.output
