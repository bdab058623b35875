"""The exact request bytes of every batch type, on nasty cells, stay what they were.

``test_payloads.py`` compares the items as parsed JSON; these compare the bytes themselves
(number spelling, escapes, key order, separators) with the bytes the planner produced when
this file was written (commit ``f476382``), so a faster way to build them cannot change a
byte unnoticed. Each file is every field of its type filled from awkward cells: quotes,
backslashes, control characters, Arabic text and digits, ``00042``, ``5.``,
``0.30000000000000004``, huge numbers and blanks; customers repeat, so chunks reorder.
Rows validation refuses are simply not sent; the digest covers what is.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

import pandas as pd
import pytest

from gameball_batch.batch_types import BatchType, FieldSpec, Kind, get
from gameball_batch.payloads import ChunkPlan, plan_chunks
from gameball_batch.validate import validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TEXTS = ['say "hi"', "back\\slash", "مرحبا بك", "tab\there", "line\nbreak", "nul\x00x",
         "bell\x07", "emoji 🎉", "'quote'", "\\\"mixed\\\"", "plain", "", "\x1f\x7f",
         "slash/</script>", "١٢٣", "00042"]
NUMBERS = ["0.1", "150.75", "7", "00042", "5.", "0.30000000000000004", "123456789.123",
           "99999999999.99", "1e21", "123456789012345678", "١٢٣٫٤٥", "+3.50", "0", "0.0",
           "1000000000000000", "12345678901234.5", "0.000001", "", "-2.5", "42.10", ".5"]
WHOLES = ["7", "00042", "0", "", "-3", "١٢", "123456789012345", "10.0", "+8"]
TIMES = ["2026-01-01T00:00:09Z", "2026-02-03 04:05:06", "2026-03-04T05:06:07+02:00",
         "2026-11-20T10:00:00.123Z", "", "2026-05-06"]
DATES = ["2026-01-02", "2025-12-31", "", "1990-07-04"]
BOOLEANS = ["yes", "no", "true", "FALSE", "", "1", "0"]


def _cells(spec: FieldSpec, rng: random.Random, n: int, *, gentle: bool) -> list[str]:
    if gentle and spec.kind in (Kind.MONEY, Kind.NUMBER, Kind.POINTS, Kind.INTEGER):
        # Orders hold back every row of an order with one bad cell: positive numbers only.
        return [rng.choice(["7", "00042", "5.", "0.30000000000000004", "١٢", "42.10"])
                for _ in range(n)]
    if gentle and spec.kind in (Kind.TIMESTAMP, Kind.DATE) and spec.required:
        return [rng.choice([t for t in TIMES if t]) for _ in range(n)]
    if spec.choices:
        return [rng.choice([*spec.choices, ""]) for _ in range(n)]
    pool = {Kind.MONEY: NUMBERS, Kind.NUMBER: NUMBERS, Kind.POINTS: WHOLES,
            Kind.INTEGER: WHOLES, Kind.TIMESTAMP: TIMES, Kind.DATE: DATES,
            Kind.BOOLEAN: BOOLEANS, Kind.EMAIL: ["a@b.co", "", "x.y+z@example.com"],
            Kind.PHONE: ["+201001234567", "", "+97150123456"],
            Kind.LIST: ["a,b", "", 'x "y",z\\w', "مرحبا,بك"]}.get(spec.kind, TEXTS)
    return [rng.choice(pool) for _ in range(n)]


def nasty_file(bt: BatchType, seed: int, n: int = 300) -> pd.DataFrame:
    rng = random.Random(seed)
    columns: dict[str, list[str]] = {}
    for spec in bt.fields:
        columns[spec.path] = _cells(spec, rng, n, gentle=bt.group_by == "orderId")
    # Ids that keep rows valid often enough: repeated customers, mostly distinct keys.
    pool = max(9, n // 40)
    columns["customerId"] = [rng.choice([f"cus-{rng.randrange(pool)}", f'c"{i % pool}\\',
                                         f"عميل-{i % pool}"]) for i in range(n)]
    if bt.result_key == "customerId":  # one item per customer: keep them apart
        columns["customerId"] = [f"{c}#{i}" for i, c in enumerate(columns["customerId"])]
    for path in {bt.result_key, bt.generated_key} - {None, "customerId"}:
        if path in columns:
            columns[path] = [f"K-{i}-{rng.choice(TEXTS[:11])}" for i in range(n)]
    if bt.group_by == "orderId":
        columns["orderId"] = [f"SO-{i // 3}" for i in range(n)]
        owners = {o: c for o, c in zip(columns["orderId"], columns["customerId"],
                                       strict=True)}
        columns["customerId"] = [owners[o] for o in columns["orderId"]]
        for spec in bt.fields:  # an order's own fields agree on its rows
            if not spec.line_item and spec.path not in ("customerId", "orderId"):
                first = {o: v for o, v in reversed(list(zip(columns["orderId"],
                                                            columns[spec.path], strict=True)))}
                columns[spec.path] = [first[o] for o in columns["orderId"]]
    for group in bt.one_of:  # exactly one of each group given
        for i in range(n):
            keep = rng.choice(group)
            for path in group:
                if path != keep and path in columns:
                    columns[path][i] = ""
    for prefix in bt.open_prefixes:
        columns[prefix + "tier"] = [rng.choice(TEXTS) for _ in range(n)]
        columns[prefix + "deep.score"] = [rng.choice(NUMBERS) for _ in range(n)]
        if bt.group_by == "orderId":
            for path in (prefix + "tier", prefix + "deep.score"):
                first = {o: v for o, v in reversed(list(zip(columns["orderId"],
                                                            columns[path], strict=True)))}
                columns[path] = [first[o] for o in columns["orderId"]]
    index = pd.RangeIndex(2, n + 2, name="row")
    return pd.DataFrame({k: pd.Series(v, dtype="str", index=index)
                         for k, v in columns.items()})


def digest(plan: ChunkPlan) -> str:
    h = hashlib.sha256()
    for chunk in plan.chunks:
        h.update(repr((chunk.index, chunk.keys, chunk.rows)).encode())
        h.update(chunk.payload)
    return h.hexdigest()


def planned(slug: str, seed: int, size: int, rows: int) -> tuple[ChunkPlan, int]:
    bt = get(slug)
    result = validate(bt, nasty_file(bt, seed, rows), now=NOW, id_seed="seed")
    return plan_chunks(result, size=size), result.valid_count


# (type, seed, chunk size, rows) → (valid rows, chunks, sha256 of every chunk's index, keys,
# rows and payload bytes), recorded from the planner as of f476382.
EXPECTED: dict[tuple[str, int, int, int], tuple[int, int, str]] = {
    ('customers', 1, 37, 300): (218, 6,
        "f7512e5497c0ab8c7fcb300e516aefdddd9a277c78767ade3bb7edc0eb40268d"),
    ('customers', 2, 1000, 300): (219, 1,
        "0697e5c6d6badd9cccf29843fb68b178645135db9714197121e59c8f415c8d7c"),
    ('orders', 1, 37, 300): (198, 14,
        "0ea2d99f49db40f050aa679a24066911fad0c25fa8ad6bb370ec5bc0bdc95bed"),
    ('orders', 2, 1000, 300): (183, 9,
        "d755b5bf8a79d5a07ffef2eb588c78366719b7671c9cd3427c4ef9060a0b9def"),
    ('balance-inquiries', 1, 37, 300): (300, 9,
        "25935d31e9aa6c7f133393503a9a7d51ea07a23ddf733bebe9b9c29c5cf63626"),
    ('balance-inquiries', 2, 1000, 300): (300, 1,
        "741323a143aa94a669b2881c8648f23f4c9fe9a063cd9bd4fe16e2cffc60f1f0"),
    ('adjustments', 1, 37, 300): (238, 7,
        "d878a3a6a091c0b1475c2bd073fa3cd339f128d07d0f086f6cd62115f1f14216"),
    ('adjustments', 2, 1000, 300): (244, 1,
        "089b3971fa25ff958f5e69697e029adae28eb57dd4c294a89147aa6d8f2a576f"),
    ('cashback', 1, 37, 300): (137, 11,
        "767f51c32641e44f66808e761ae073e1768be0c39e90d152edb2d5e71128d3b7"),
    ('cashback', 2, 1000, 300): (159, 10,
        "cb1f33ba1dca944c1c9861b621e12c3e052653a9c57c04c93317ab0e9f0f75ad"),
    ('redemptions', 1, 37, 300): (185, 11,
        "1c8ff3cb1b0f259d22cd285174dba5e63c08d50d1c9f637f09b81f097abf2686"),
    ('redemptions', 2, 1000, 300): (202, 12,
        "0fb4d123c4e979870347fdd9d2f4fd79ba99fef2daf06b7349ca61dca0f8e655"),
    ('events', 1, 37, 300): (285, 8,
        "f3f3392beaa1273bbd3d222405020ae834d63b1152de85d9bfda5d362eaf0e51"),
    ('events', 2, 1000, 300): (283, 1,
        "c4bbe0b8a2ef92bec985b59f15c9951e312bc88147ca3950aa5b0496587611d9"),
    ('cashback', 3, 1000, 45000): (22218, 23,
        "9820b1de0b7446c03fee126331df36ea3abc5ce5dde55a34e9490251efce06bc"),
}
CASES = [(slug, seed, size, 300) for slug in ("customers", "orders", "balance-inquiries",
                                              "adjustments", "cashback", "redemptions",
                                              "events")
         for seed, size in ((1, 37), (2, 1000))]
# Wider than one build block (32k items), repeated customers moving across its edges.
CASES.append(("cashback", 3, 1000, 45_000))


@pytest.mark.parametrize(("slug", "seed", "size", "rows"), CASES)
def test_payload_bytes_are_unchanged(slug: str, seed: int, size: int, rows: int) -> None:
    plan, valid = planned(slug, seed, size, rows)
    assert valid >= 20, f"{slug}: too few valid rows ({valid}) to cover anything"
    assert (valid, len(plan.chunks), digest(plan)) == EXPECTED[(slug, seed, size, rows)]


def _spellings(rng: random.Random) -> list[str]:
    """Texts the sending-as-written rule accepts, and near misses it must refuse."""
    digits = "0123456789"
    out = []
    for _ in range(20_000):
        whole = rng.choice(["0", str(rng.randint(1, 9))]) + "".join(
            rng.choice(digits) for _ in range(rng.randint(0, 10)))
        fraction = "".join(rng.choice(digits) for _ in range(rng.randint(0, 17)))
        out.append(whole + ("." + fraction if fraction or rng.random() < 0.2 else ""))
    return [*out, "0.1", "999999999.999999", "100000000", "1000000000", "0.5", "0.0001",
            "123456789012345", "1.00000000000001", "9.999999999999999"]


def test_a_number_sent_as_written_is_exactly_how_it_would_be_printed() -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from gameball_batch import payloads

    text = pa.array(_spellings(random.Random(5)), type=pa.large_string())
    values = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    kept = text.filter(pa.array(payloads._as_printed(text, values)))
    assert len(kept) > 3000
    printed = pc.cast(pc.cast(kept, pa.float64()), pa.large_string())
    assert printed.to_pylist() == kept.to_pylist()
    refused = ["5.", "00042", "42.10", "+3", "0.30000000000000004", "1000000000", "0.05",
               "-2", ".5", "0", "1e5", "", "١٢", "1 ", "12345678.12345678"]
    odd = pa.array(refused, type=pa.large_string())
    assert not payloads._as_printed(odd, np.ones(len(refused))).any()


@pytest.mark.parametrize("slug", ["cashback", "redemptions", "adjustments", "customers"])
def test_numbers_sent_as_written_give_the_same_bytes_as_numbers_printed(slug: str) -> None:
    import dataclasses

    bt = get(slug)
    result = validate(bt, nasty_file(bt, 4), now=NOW, id_seed="seed")
    assert result.number_texts is not None
    printed = dataclasses.replace(result, number_texts=None)
    assert [c.payload for c in plan_chunks(result, size=50).chunks] == [
        c.payload for c in plan_chunks(printed, size=50).chunks]
    # Texts kept for another frame are not used for this one.
    other = dataclasses.replace(result, clean=result.clean.copy())
    assert [c.payload for c in plan_chunks(other, size=50).chunks] == [
        c.payload for c in plan_chunks(printed, size=50).chunks]


def test_the_sending_as_written_check_reads_a_long_column_a_window_at_a_time() -> None:
    """Windows of cells (a run of blanks filling one, nulls, a sliced array) give the
    same answer as checking a thousand cells at a time."""
    import numpy as np
    import pyarrow as pa

    from gameball_batch import payloads

    rng = random.Random(7)
    spellings = _spellings(rng)
    cells: list[str | None] = [rng.choice(spellings) for _ in range(60_000)]
    cells += [""] * (payloads._WINDOW + 5) + [None, "12.5", None]
    cells += [rng.choice([*spellings, "", None]) for _ in range(60_000)]
    text = pa.array(["skipped", *cells], type=pa.large_string()).slice(1)
    values = np.array([float(c) if c else np.nan for c in cells])
    whole = payloads._as_printed(text, values)
    pieces = np.concatenate([payloads._as_printed(text.slice(at, 1000), values[at : at + 1000])
                             for at in range(0, len(text), 1000)])
    assert len(whole) == len(cells)
    assert whole.tolist() == pieces.tolist()
    assert whole.sum() > 20_000
