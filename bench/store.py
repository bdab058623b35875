"""How long storing a 1M-row job takes, and opening it the first time (issue "No double
application on any path", scope 8).

``PYTHONPATH=. python bench/store.py [--rows N] [--runs K]`` reads ``bench/data/
cashback-1m.csv`` (``python bench/data_gen.py`` writes it), validates and plans it once, then
K times: stores the job in a fresh ledger (``jobs.create_job``: job, 1000 payloads, the rows
of each chunk as one row set, the cells in compressed parts, the business keys and ids) and
opens it as the Jobs page first does (``jobs.summary``, the first page of rows). Prints each
run, the medians and the ledger file's size.

Run on a quiet machine; the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from gameball_batch import guards, ingest, jobs, mapping
from gameball_batch.batch_types import get
from gameball_batch.ledger import Ledger
from gameball_batch.payloads import plan_chunks
from gameball_batch.validate import validate

DATA = Path(__file__).resolve().parent / "data" / "cashback-1m.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--file", type=Path, default=DATA)
    args = parser.parse_args()
    bt = get("cashback")
    table = ingest.read_table(args.file.read_bytes(), args.file.name)
    fields = mapping.suggest_mapping(bt, list(table.frame.columns)).mapping
    result = validate(bt, mapping.apply_mapping(table.frame, fields), columns=fields,
                      id_seed=table.fingerprint)
    plan = plan_chunks(result)
    keys = guards.stored_keys(guards.business_keys(result, fields))
    print(f"{plan.row_count:,} rows, {len(plan.chunks):,} chunks; load {os.getloadavg()[0]:.1f}")
    stored, opened = [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            ledger = Ledger(Path(folder) / "ledger.db")
            began = time.perf_counter()
            job_id = jobs.create_job(ledger, plan, frame=table.frame, file_name="1m.csv",
                                     fingerprint=table.fingerprint, mapping=fields,
                                     actor="bench", row_keys=keys)
            stored.append(time.perf_counter() - began)
            ledger.close()
            size = sum(f.stat().st_size for f in Path(folder).iterdir()) / 1e6
            reopened = Ledger(Path(folder) / "ledger.db")  # a console opening it afresh
            began = time.perf_counter()
            jobs.summary(reopened, job_id)
            jobs.rows_frame(reopened, job_id, limit=100)
            opened.append(time.perf_counter() - began)
            reopened.close()
        print(f"run {run + 1}: store {stored[-1]:.2f} s, first open {opened[-1] * 1000:.0f} ms"
              f", ledger {size:.0f} MB (load {os.getloadavg()[0]:.1f})")
    print(f"median: store {statistics.median(stored):.2f} s, first open "
          f"{statistics.median(opened) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
