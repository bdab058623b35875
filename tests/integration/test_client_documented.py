"""The client against replies shaped exactly as Gameball documents them (reference §4).

Result items carry only ``customerId`` plus ``message`` or ``error``; a stopped job answers
with the tutorial's zeros and ``response: null``. The client must read all of it without
inventing what is not there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from gameball_batch.client import GameballClient
from gameball_batch.sandbox import SandboxServer


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[GameballClient]:
    with GameballClient(sandbox.url, sandbox.api_key, sandbox.secret_key,
                        rate_limit=None, timeout=10.0) as made:
        yield made


def _payload(*items: dict[str, Any]) -> bytes:
    return json.dumps({"body": list(items)}).encode()


def _cashback(tx: str, customer: str) -> dict[str, Any]:
    return {"customerId": customer, "transactionId": tx,
            "transactionTime": "2026-11-20T10:00:00Z", "amount": 10}


def test_documented_items_name_only_the_customer(client: GameballClient) -> None:
    job_id = client.create_batch("cashback", _payload(_cashback("INV-1", "cus-1001"),
                                                      _cashback("INV-2", "cus-9999")))
    status = client.get_status(job_id, "cashback")
    assert [i.key for i in status.successful] == ["cus-1001"]
    assert "transactionId" not in status.successful[0].data
    (failed,) = status.failed
    assert (failed.key, failed.message, failed.code) == ("cus-9999", "Customer Not Found", None)
    assert set(failed.data) == {"customerId", "message"}


def test_a_stopped_job_reports_nothing_about_its_items(
    client: GameballClient, sandbox: SandboxServer
) -> None:
    sandbox.state.instant = False
    sandbox.state.item_rate = 0
    job_id = client.create_batch("cashback", _payload(_cashback("INV-1", "cus-1001"),
                                                      _cashback("INV-2", "cus-1002")))
    with sandbox.state.lock:
        sandbox.core.process(1)  # Gameball applies one item before the stop arrives
    client.stop(job_id)
    status = client.get_status(job_id, "cashback")
    assert status.state == "stopped"
    assert (status.finished_count, status.total_count, status.started_at) == (0, 0, None)
    assert not status.successful
    assert not status.failed
    assert sandbox.core.counts("cashback") == {"INV-1": 1}  # yet it was applied
