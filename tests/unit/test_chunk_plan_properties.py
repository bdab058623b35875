"""Properties of every chunk plan, on random files of every type (many seeds).

Gameball's documented results name only the customer, so a result must name one item of its
chunk: no customer twice in a chunk, no result key twice in a chunk, every row in exactly
one chunk, at most ``size`` items per chunk, and no more chunks than the file needs.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime

import pandas as pd
import pytest

from gameball_batch.batch_types import get
from gameball_batch.payloads import chunk_count, plan_chunks
from gameball_batch.validate import validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PAST = "2026-11-20T10:00:00Z"
SEEDS = range(12)


def _frame(columns: dict[str, list[str]]) -> pd.DataFrame:
    rows = len(next(iter(columns.values())))
    index = pd.RangeIndex(2, rows + 2, name="row")
    return pd.DataFrame({k: pd.Series(v, dtype="str", index=index) for k, v in columns.items()})


def _random_file(slug: str, rng: random.Random) -> pd.DataFrame:
    n = rng.randint(1, 400)
    pool = rng.choice([1, 3, 20, n])  # from one customer for everything to all different
    skew = rng.random() < 0.3  # one busy customer among many quiet ones
    customers = [("cus-busy" if skew and rng.random() < 0.3 else f"cus-{rng.randrange(pool)}")
                 for _ in range(n)]
    if slug in ("cashback", "redemptions"):
        columns = {"customerId": customers, "transactionId": [f"T{i}" for i in range(n)],
                   "transactionTime": [PAST] * n}
        if slug == "cashback":
            columns["amount"] = [str(rng.randint(1, 500)) for _ in range(n)]
        else:
            columns["points"] = [str(rng.randint(1, 50)) for _ in range(n)]
        return _frame(columns)
    if slug == "orders":  # a few line-item rows per order, an order's rows together
        orders = [f"SO-{i // rng.randint(1, 3)}" for i in range(n)]
        owner: dict[str, str] = {}
        return _frame({
            "customerId": [owner.setdefault(o, c) for o, c in zip(orders, customers,
                                                                   strict=True)],
            "orderId": orders, "orderDate": [PAST] * n, "totalPaid": ["10"] * n,
            "lineItems.productId": [f"P{rng.randrange(5)}" for _ in range(n)],
            "lineItems.quantity": ["1"] * n})
    if slug == "adjustments":
        return _frame({"customerId": customers, "amount": [str(rng.randint(-5, 50))
                                                           for _ in range(n)]})
    if slug == "events":
        return _frame({"customerId": customers,
                       "event": [rng.choice(["visit", "review"]) for _ in range(n)],
                       "metadata.stars": [str(rng.randint(1, 5)) for _ in range(n)]})
    return _frame({"customerId": [f"cus-{i}" for i in range(n)]})  # customers: unique ids


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("slug", ["cashback", "redemptions", "orders", "adjustments",
                                  "events", "customers"])
def test_every_plan_keeps_the_rules_that_let_results_name_one_row(slug: str, seed: int) -> None:
    rng = random.Random(f"{slug}-{seed}")
    data = _random_file(slug, rng)
    result = validate(get(slug), data, now=NOW, id_seed="seed")
    if slug == "customers":
        assert result.invalid_count == 0
    size = rng.choice([1, 2, 7, 50, 1000])
    plan = plan_chunks(result, size=size)
    key = get(slug).result_key
    placed: Counter[int] = Counter()
    for chunk in plan.chunks:
        body = json.loads(chunk.payload)["body"]
        assert 1 <= len(body) <= size
        customers = [item["customerId"] for item in body]
        keys = [str(item[key]) for item in body]
        assert len(set(customers)) == len(customers), "a customer twice in one chunk"
        assert len(set(keys)) == len(keys), "a result key twice in one chunk"
        assert list(chunk.keys) == keys
        placed.update(r for rows in chunk.rows for r in rows)
    assert sorted(placed) == sorted(int(r) for r in result.clean.index)
    assert set(placed.values()) <= {1}, "a row in two chunks"
    busiest = plan.busiest_customer[1] if plan.busiest_customer else 1
    assert len(plan.chunks) == max(-(-plan.item_count // size), busiest), "more than needed"
    # What `validate` on the command line reports, counted without building a body.
    assert chunk_count(result, size=size) == len(plan.chunks)


@pytest.mark.parametrize("seed", range(6))
def test_a_big_file_with_repeat_customers_keeps_file_order_and_the_fewest_requests(
    seed: int,
) -> None:
    # Customers drawn at random, as a real export has them: a customer's repeat within a
    # chunk moves to another chunk, everything else stays where the file has it, and the
    # file still takes exactly ceil(items / size) requests.
    rng = random.Random(seed)
    n, size = rng.choice([(20_000, 200), (12_345, 100), (30_000, 1000)])
    pool = rng.choice([n // 20, n // 5])
    data = _frame({"customerId": [f"cus-{rng.randrange(pool)}" for _ in range(n)],
                   "transactionId": [f"T{i}" for i in range(n)],
                   "transactionTime": [PAST] * n,
                   "amount": [str(rng.randint(1, 500)) for _ in range(n)]})
    result = validate(get("cashback"), data, now=NOW, id_seed="seed")
    plan = plan_chunks(result, size=size)
    assert len(plan.chunks) == -(-n // size)
    stayed = 0
    for chunk in plan.chunks:
        body = json.loads(chunk.payload)["body"]
        customers = [item["customerId"] for item in body]
        assert len(set(customers)) == len(customers), "a customer twice in one chunk"
        assert len(body) <= size
        rows = [r for rows in chunk.rows for r in rows]
        assert [item["transactionId"] for item in body] == list(chunk.keys)
        assert [f"T{r - 2}" for r in rows] == list(chunk.keys), "rows and items disagree"
        stayed += sum(1 for r in rows if (r - 2) // size == chunk.index)
    assert stayed >= 0.8 * n, f"only {stayed} of {n} rows stayed in their place in the file"


def test_a_file_sorted_by_customer_is_dealt_so_it_still_takes_the_fewest_requests() -> None:
    # Every customer's 20 rows together: cutting in file order would need a request per
    # row; the round-robin plan needs the fewest.
    n, size = 4_000, 100
    data = _frame({"customerId": [f"cus-{i // 20}" for i in range(n)],
                   "transactionId": [f"T{i}" for i in range(n)],
                   "transactionTime": [PAST] * n,
                   "amount": ["5"] * n})
    plan = plan_chunks(validate(get("cashback"), data, now=NOW, id_seed="seed"), size=size)
    assert len(plan.chunks) == 40
    for chunk in plan.chunks:
        customers = [item["customerId"] for item in json.loads(chunk.payload)["body"]]
        assert len(set(customers)) == len(customers) == size



@pytest.mark.parametrize("size", [1, 7, 1000])
def test_repeats_found_a_few_chunks_at_a_time_match_a_whole_file_reading(size: int) -> None:
    """The repeat scan reads a few dozen chunks at a time; the repeats and the sorted
    (chunk, customer) numbers it returns are those of the whole file read at once."""
    import numpy as np

    from gameball_batch import payloads

    rng = np.random.default_rng(size)
    n = 3 * payloads._WINDOW + 17  # several windows, and a last chunk partly filled
    codes = rng.integers(0, 40_000, n).astype(np.int64)
    natural = -(-n // size)
    width = int(codes.max()) + 1
    moved, present = payloads._repeats_in_chunks(codes, size, natural, width)
    chunk = np.arange(n) // size
    assert moved.tolist() == pd.Series(list(zip(chunk.tolist(), codes.tolist(),
                                                strict=True))).duplicated().tolist()
    padding = width + np.arange(natural * size - n)
    keyed = np.concatenate([chunk * width + codes, (natural - 1) * width + padding])
    expected = np.sort(keyed.reshape(natural, size), axis=1).reshape(-1)
    assert present.tolist() == expected.tolist()
