"""Payloads: the bytes sent are exactly the items an operator's rows describe."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from ledgers import open_test_ledger

from gameball_batch.batch_types import BatchType, get
from gameball_batch.payloads import ChunkPlan, plan_chunks
from gameball_batch.validate import ValidationResult, validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NASTY = ['say "hi"', "back\\slash", "مرحبا بك", "tab\there", "line\nbreak", "nul\x00x",
         "bell\x07", "emoji 🎉", "  padded  ", "'quote'", "\\\"mixed\\\"", "plain"]


def frame(columns: dict[str, list[str]]) -> pd.DataFrame:
    rows = len(next(iter(columns.values())))
    index = pd.RangeIndex(2, rows + 2, name="row")
    return pd.DataFrame({k: pd.Series(v, dtype="str", index=index) for k, v in columns.items()})


def checked(slug: str, data: pd.DataFrame) -> ValidationResult:
    result = validate(get(slug), data, now=NOW, id_seed="seed")
    assert result.invalid_count == 0, result.issues.to_string()
    return result


def body(plan: ChunkPlan) -> list[dict[str, Any]]:
    """Every item sent, in source order (a chunk holds each customer once, so items of a
    file with repeated customers are spread over chunks)."""
    placed = [(rows[0], item) for c in plan.chunks
              for rows, item in zip(c.rows, json.loads(c.payload)["body"], strict=True)]
    return [item for _, item in sorted(placed, key=lambda p: p[0])]


# --- the slow, obvious builder the fast one must match -------------------------------------


def _present(value: object) -> bool:
    return isinstance(value, list) or not pd.isna(value)  # type: ignore[arg-type]


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


def _nest(target: dict[str, Any], path: str, value: object) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = _plain(value)


def slow_items(bt: BatchType, clean: pd.DataFrame) -> list[dict[str, Any]]:
    records = [(int(r), {k: v for k, v in rec.items() if _present(v)})
               for r, rec in zip(clean.index, clean.to_dict("records"), strict=True)]
    if bt.slug == "events":
        return _slow_events(records)
    if bt.slug == "orders":
        return _slow_orders(records)
    out: list[dict[str, Any]] = []
    for _, rec in records:
        item: dict[str, Any] = {}
        for path, value in rec.items():
            _nest(item, path, value)
        out.append(item)
    return out


def _slow_orders(records: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    orders: dict[str, dict[str, Any]] = {}
    for _, rec in records:
        order = orders.get(rec["orderId"])
        if order is None:
            order = orders[rec["orderId"]] = {}
            for path, value in rec.items():
                if not path.startswith("lineItems."):
                    _nest(order, path, value)
        line = {p.split(".", 1)[1]: _plain(v) for p, v in rec.items()
                if p.startswith("lineItems.")}
        if line:
            order.setdefault("lineItems", []).append(line)
    return list(orders.values())


def _slow_events(records: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for _, rec in records:
        meta: dict[str, Any] = {}
        for path, value in rec.items():
            if path.startswith("metadata."):
                _nest(meta, path.split(".", 1)[1], value)
        home = next((i for i in items if i["customerId"] == rec["customerId"]
                     and rec["event"] not in i["events"]), None)
        if home is None:
            home = {"customerId": rec["customerId"], "events": {}}
            items.append(home)
        home["events"][rec["event"]] = meta
    return items


# --- equality with the slow builder ----------------------------------------------------------


def varied_cashback(n: int, *, nasty_share: float = 1.0) -> pd.DataFrame:
    rng = random.Random(7)
    text = [rng.choice(NASTY) if rng.random() < nasty_share else "plain" for _ in range(n)]
    return frame({
        "customerId": [f"cus-{i % 50}-{text[i]}" for i in range(n)],
        "transactionId": [f"T{i}-{rng.choice(NASTY)}" for i in range(n)],
        "transactionTime": [f"2026-0{1 + i % 9}-1{i % 10}T0{i % 10}:15:0{i % 10}+02:00"
                            for i in range(n)],
        "amount": [rng.choice(["0.1", "150.75", "7", "123456789.123",
                               "0.30000000000000004", "00042", "5.", "99999999999.99"])
                   for _ in range(n)],
        "email": [rng.choice(["", "a@b.co"]) for _ in range(n)],
        "merchant.uniqueId": [rng.choice(["", "M-1", text[i]]) for i in range(n)],
        "merchant.branch.name": [rng.choice(["", "Branch \"7\"", "فرع"]) for i in range(n)],
        "configurations.returnWindow": [rng.choice(["", "0", "14"]) for _ in range(n)],
    })


@pytest.mark.parametrize("nasty_share", [1.0, 0.02])
def test_payloads_equal_the_obvious_items_for_varied_rows(nasty_share: float) -> None:
    result = checked("cashback", varied_cashback(400, nasty_share=nasty_share))
    plan = plan_chunks(result, size=37)
    assert body(plan) == slow_items(result.batch_type, result.clean)
    assert all(not isinstance(v, str) or v for item in body(plan) for v in item.values())


def test_nested_customer_attributes_and_custom_values() -> None:
    rng = random.Random(3)
    n = 200
    data = frame({
        "customerId": [f"c{i}" for i in range(n)],
        "customerAttributes.firstName": [rng.choice([*NASTY, ""]) for _ in range(n)],
        "customerAttributes.totalSpent": [rng.choice(["", "12.5", "0"]) for _ in range(n)],
        "customerAttributes.totalOrders": [rng.choice(["", "3"]) for _ in range(n)],
        "customerAttributes.paymentMethods": [rng.choice(["", "card, cash", "x"])
                                              for _ in range(n)],
        "customerAttributes.custom.tier": [rng.choice(["", "gold", "\"vip\""])
                                           for _ in range(n)],
        "guest": [rng.choice(["", "yes", "no"]) for _ in range(n)],
    })
    result = checked("customers", data)
    plan = plan_chunks(result)
    assert body(plan) == slow_items(result.batch_type, result.clean)
    first = body(plan)
    assert all("customerAttributes" not in i or i["customerAttributes"] for i in first)


def test_blank_optional_values_are_left_out() -> None:
    result = checked("adjustments", frame({"customerId": ["a"], "amount": ["5"], "reason": [""]}))
    assert plan_chunks(result).chunks[0].payload == b'{"body":[{"customerId":"a","amount":5}]}'


def test_order_rows_become_one_order_with_line_items() -> None:
    data = frame({
        "customerId": ["c1", "c2", "c1"], "orderId": ["SO-1", "SO-2", "SO-1"],
        "orderDate": ["2026-01-01T00:00:00Z"] * 3, "totalPaid": ["420.5", "9", "420.5"],
        "lineItems.productId": ["P1", "", "P2"], "lineItems.quantity": ["1", "", "2"],
        "merchant.name": ["Shop", "", "Shop"],
    })
    plan = plan_chunks(checked("orders", data))
    assert body(plan) == [
        {"customerId": "c1", "orderId": "SO-1", "orderDate": "2026-01-01T00:00:00.000Z",
         "totalPaid": 420.5, "merchant": {"name": "Shop"},
         "lineItems": [{"productId": "P1", "quantity": 1}, {"productId": "P2", "quantity": 2}]},
        {"customerId": "c2", "orderId": "SO-2", "orderDate": "2026-01-01T00:00:00.000Z",
         "totalPaid": 9},
    ]
    assert plan.chunks[0].rows == ((2, 4), (3,))
    assert plan.chunks[0].keys == ("SO-1", "SO-2")
    assert (plan.item_count, plan.row_count) == (2, 3)


def test_an_order_file_without_line_columns_has_no_line_items() -> None:
    data = frame({"customerId": ["c1"], "orderId": ["SO-1"],
                  "orderDate": ["2026-01-01T00:00:00Z"], "totalPaid": ["1"]})
    assert "lineItems" not in plan_chunks(checked("orders", data)).first_item()


def test_events_group_per_customer_and_split_a_repeated_event() -> None:
    data = frame({
        "customerId": ["c1", "c1", "c2", "c1"],
        "event": ["write_review", "visit_store", "write_review", "write_review"],
        "metadata.stars": ["5", "", "4", "3"],
    })
    result = checked("events", data)
    plan = plan_chunks(result)
    assert body(plan) == slow_items(result.batch_type, result.clean)
    assert len(plan.chunks) == 2
    assert plan.chunks[0].keys == ("c1", "c2")
    assert plan.chunks[0].rows == ((2, 3), (4,))
    assert plan.chunks[1].rows == ((5,),)
    assert json.loads(plan.chunks[1].payload)["body"] == [
        {"customerId": "c1", "events": {"write_review": {"stars": 3}}}]


def test_varied_events_equal_the_obvious_items() -> None:
    rng = random.Random(11)
    n = 300
    data = frame({
        "customerId": [f"c{rng.randrange(20)}" for _ in range(n)],
        "event": [rng.choice(["a", "b", "c", "say \"x\""]) for _ in range(n)],
        "metadata.k": [rng.choice(["", "v", "مرحبا"]) for _ in range(n)],
    })
    result = checked("events", data)
    plan = plan_chunks(result, size=10)
    assert sorted(map(json.dumps, body(plan))) == sorted(
        map(json.dumps, slow_items(result.batch_type, result.clean)))


# --- the plan --------------------------------------------------------------------------------


def test_a_repeated_customer_is_spread_over_as_few_chunks_as_it_needs() -> None:
    data = frame({"customerId": ["a", "b", "a", "c", "a", "d"], "amount": ["1"] * 6})
    plan = plan_chunks(checked("adjustments", data), size=3)
    assert [c.keys for c in plan.chunks] == [("a", "b"), ("a", "c"), ("a", "d")]
    assert [c.rows for c in plan.chunks] == [((2,), (3,)), ((4,), (5,)), ((6,), (7,))]
    assert plan.busiest_customer == ("a", 3)
    assert plan.minimum_requests == 3
    for chunk in plan.chunks:
        assert len(set(chunk.keys)) == len(chunk.keys)
        assert [i["customerId"] for i in json.loads(chunk.payload)["body"]] == list(chunk.keys)


def test_chunks_hold_at_most_the_size_and_keep_source_order() -> None:
    data = varied_cashback(95)
    data["customerId"] = [f"cus-{i}" for i in range(95)]  # every customer once
    result = checked("cashback", data)
    plan = plan_chunks(result, size=10)
    assert [len(c.keys) for c in plan.chunks] == [10] * 9 + [5]
    assert [r for c in plan.chunks for (r,) in c.rows] == list(range(2, 97))
    assert [c.index for c in plan.chunks] == list(range(10))


def test_the_same_result_gives_the_same_bytes() -> None:
    result = checked("cashback", varied_cashback(50))
    assert [c.payload for c in plan_chunks(result).chunks] == [
        c.payload for c in plan_chunks(result).chunks]


def test_nothing_valid_means_no_chunks() -> None:
    result = validate(get("cashback"), frame({"customerId": ["a"], "amount": ["x"]}), now=NOW)
    plan = plan_chunks(result)
    assert (plan.chunks, plan.item_count, plan.first_item()) == ([], 0, {})


def test_chunk_size_is_bounded_by_the_api_limit() -> None:
    with pytest.raises(ValueError, match="1 to 1000"):
        plan_chunks(checked("cashback", varied_cashback(2)), size=1001)


def test_a_stored_job_keeps_every_cell_exactly_as_the_file_had_it(tmp_path: Path) -> None:
    # The ledger keeps a job's cells column-wise (compressed Arrow parts); the failed-rows
    # download and the retry read them back: quotes, backslashes, control characters,
    # Arabic, blanks and a missing cell (kept as "") must survive exactly.
    from gameball_batch import jobs

    texts = ["cus-1", 'say "hi"', "back\\slash", "tab\there", None, "ريال ١٢٫٥", "line\nbreak"]
    frame = pd.DataFrame({"customerId": [f"cus-{i}" for i in range(len(texts))],
                          "amount": [str(i + 1) for i in range(len(texts))],
                          "transactionTime": ["2026-01-01T00:00:00Z"] * len(texts),
                          "note": texts}, dtype="str")
    frame.index = pd.RangeIndex(2, 2 + len(frame))
    plan = plan_chunks(checked("cashback", frame), size=3)
    with open_test_ledger(tmp_path, "l.db") as ledger:
        job = jobs.create_job(ledger, plan, frame=frame, file_name="f.csv", fingerprint="fp",
                              mapping={}, actor="t")
        stored = {r.row: r.cells for r in ledger.rows(job)}
    assert stored == {i + 2: (f"cus-{i}", str(i + 1), "2026-01-01T00:00:00Z",
                              "" if t is None else t)
                      for i, t in enumerate(texts)}
