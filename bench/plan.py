"""What a chunk plan that holds each customer once costs (issue "Gameball as documented").

``PYTHONPATH=. python bench/plan.py [--rows N] [--runs K]`` builds three cashback files in
memory, alike but for how often customers repeat: every customer once, three rows per
customer, and about twenty per customer (``bench/data_gen.py``'s mix). Each is validated
once; then ``payloads.plan_chunks`` runs K times and the median is printed, with the number
of requests against the fewest the file allows.

The data do not depend on the package under test: plain numpy text columns.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pandas as pd

from gameball_batch.batch_types import get
from gameball_batch.payloads import plan_chunks
from gameball_batch.validate import validate


def frame(rows: int, per_customer: float) -> pd.DataFrame:
    rng = np.random.default_rng(20261203)
    customers = max(int(rows / per_customer), 1)
    ids = np.arange(rows) % customers if per_customer > 1 else np.arange(rows)
    rng.shuffle(ids)
    index = pd.RangeIndex(2, rows + 2, name="row")
    columns = {
        "customerId": np.char.add("cus-", ids.astype(str)),
        "transactionId": np.char.add("INV-", np.arange(rows).astype(str)),
        "transactionTime": np.full(rows, "2026-11-20T10:00:00Z"),
        "amount": np.char.add(rng.integers(1, 999, rows).astype(str), ".50"),
    }
    return pd.DataFrame({k: pd.Series(v, dtype="str", index=index) for k, v in columns.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    bt = get("cashback")
    for label, per_customer in (("every customer once", 1), ("3 rows per customer", 3),
                                ("~20 rows per customer", 20)):
        result = validate(bt, frame(args.rows, per_customer), id_seed="bench")
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            plan = plan_chunks(result)
            times.append(time.perf_counter() - began)
        print(f"{label}: plan_chunks median {statistics.median(times):.2f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in times)}), {len(plan.chunks):,} requests "
              f"(fewest possible {plan.minimum_requests:,}); load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
