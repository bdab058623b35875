"""Fixed-seed generators for benchmark files (written to bench/data/, which git ignores).

``python bench/data_gen.py`` writes ``cashback-1m.csv`` (1,000,000 rows) and
``cashback-100k.xlsx`` (100,000 rows); ``--arabic`` also writes ``cashback-1m-arabic.csv``,
the same rows with every amount in Arabic-Indic digits and the Arabic decimal separator
(``١٥٠٫٥٠``), as Arabic-locale Excel exports them. The rows look like a real cashback export: a few
thousand repeat customers, unique invoice numbers, past UTC times, two-decimal amounts and
an optional merchant column. The same seed always gives the same bytes.

This module must not import the package under test: the data must not depend on the code it
measures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import xlsxwriter

DATA = Path(__file__).resolve().parent / "data"
SEED = 20261125
HEADERS = ("Customer ID", "Transaction ID", "Transaction time", "Amount", "Merchant ID")


def cashback_columns(rows: int, *, seed: int = SEED) -> dict[str, list[str] | pa.Array]:
    """The cashback table as text columns (header → values)."""
    rng = np.random.default_rng(seed)
    customers = rng.integers(1001, 1001 + max(rows // 20, 5), rows)
    start = np.datetime64("2026-01-01T00:00:00", "s")
    seconds = np.sort(rng.integers(0, 300 * 24 * 3600, rows))
    times = np.char.add((start + seconds.astype("timedelta64[s]")).astype(str), "Z")
    cents = rng.integers(100, 100_000, rows)
    amounts = np.char.add(np.char.add((cents // 100).astype(str), "."),
                          np.char.zfill((cents % 100).astype(str), 2))
    merchants = np.where(rng.random(rows) < 0.3, "",
                         np.char.add("M-", rng.integers(1, 40, rows).astype(str)))
    return {
        "Customer ID": pa.array(np.char.add("cus-", customers.astype(str))),
        "Transaction ID": pa.array(np.char.add("INV-", np.char.zfill(
            np.arange(1, rows + 1).astype(str), 9))),
        "Transaction time": pa.array(times),
        "Amount": pa.array(amounts),
        "Merchant ID": pa.array(merchants),
    }


def arabic_digits(values: pa.Array) -> pa.Array:
    """ASCII digits and "." as Arabic-Indic digits and the Arabic decimal separator."""
    for digit in range(10):
        values = pc.replace_substring(values, str(digit), chr(0x0660 + digit))
    return pc.replace_substring(values, ".", "\u066b")


def write_csv(path: Path, rows: int, *, arabic: bool = False) -> Path:
    columns = cashback_columns(rows)
    if arabic:
        columns["Amount"] = arabic_digits(pa.array(columns["Amount"]))
    table = pa.table(columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(table, path, write_options=pcsv.WriteOptions(quoting_style="needed"))
    return path


def write_xlsx(path: Path, rows: int) -> Path:
    columns = cashback_columns(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("cashback")
    values = [c.to_pylist() if isinstance(c, pa.Array) else c for c in columns.values()]
    sheet.write_row(0, 0, HEADERS)
    for r, record in enumerate(zip(*values, strict=True), start=1):
        for c, value in enumerate(record):
            if value:
                sheet.write_string(r, c, value)
    book.close()
    return path


def ensure(name: str) -> Path:
    """The named benchmark file, generated if it is missing."""
    path = DATA / name
    if path.exists():
        return path
    if name == "cashback-1m.csv":
        return write_csv(path, 1_000_000)
    if name == "cashback-1m-arabic.csv":
        return write_csv(path, 1_000_000, arabic=True)
    if name == "cashback-100k.xlsx":
        return write_xlsx(path, 100_000)
    raise ValueError(f"unknown benchmark file {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="regenerate existing files")
    parser.add_argument("--arabic", action="store_true",
                        help="also write cashback-1m-arabic.csv (Arabic-Indic amounts)")
    args = parser.parse_args()
    names = ["cashback-1m.csv", "cashback-100k.xlsx"]
    if args.arabic:
        names.append("cashback-1m-arabic.csv")
    for name in names:
        if args.force:
            (DATA / name).unlink(missing_ok=True)
        path = ensure(name)
        print(f"{path} {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
