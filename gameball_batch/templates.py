"""Template files: a small, realistic example of each batch type, as CSV or XLSX bytes.

Headers are the operator-friendly names the mapping step recognises (the field labels, and
``custom.<key>`` / ``metadata.<key>`` for free-form fields), so a downloaded template maps
itself. Values are chosen to go through cleanly against the sandbox's demo customers
``cus-1001`` … ``cus-1005``: past transaction times, redemptions of at most 50 points, ids
written out (nothing generated). The unit tests validate every template with zero issues.

This module must not read or write files, talk to the network or import streamlit.
"""

from __future__ import annotations

import pandas as pd

from gameball_batch import batch_types
from gameball_batch.batch_types import BatchType
from gameball_batch.exports import to_csv_bytes, to_xlsx_bytes

FORMATS = ("csv", "xlsx")

# One column per entry: header → values. Kept as data so a template reads like the file.
_EXAMPLES: dict[str, dict[str, list[str]]] = {
    "customers": {
        "Customer ID": ["cus-1001", "cus-1002", "cus-1003"],
        "Email": ["amira@example.com", "omar@example.com", ""],
        "Mobile": ["+201000000001", "", "+966500000003"],
        "First name": ["Amira", "Omar", "Layla"],
        "Last name": ["Saleh", "Haddad", "Nasser"],
        "Gender": ["F", "M", "F"],
        "Date of birth": ["1993-04-02", "1988-11-17", ""],
        "Channel": ["web", "mobile", "pos"],
        "custom.tier_hint": ["gold", "", "silver"],
    },
    "orders": {
        "Customer ID": ["cus-1001", "cus-1001", "cus-1002", "cus-1003"],
        "Order ID": ["SO-10001", "SO-10001", "SO-10002", "SO-10003"],
        "Order date": ["2026-01-20T09:15:00Z", "2026-01-20T09:15:00Z",
                       "2026-01-21T10:02:41Z", "2026-01-22T18:30:00Z"],
        "Total paid": ["420.50", "420.50", "99", "35.25"],
        "Product ID": ["P-17", "P-22", "P-05", "P-31"],
        "Quantity": ["1", "2", "1", "3"],
        "Unit price": ["220.50", "100", "99", "11.75"],
    },
    "balance-inquiries": {
        "Customer ID": ["cus-1001", "cus-1002", "cus-1003", "cus-1004", "cus-1005"],
    },
    "adjustments": {
        "Customer ID": ["cus-1001", "cus-1002", "cus-1003"],
        "Amount": ["50", "25.5", "-5"],
        "Reason": ["Service recovery", "Birthday gift", "Correction"],
    },
    "cashback": {
        "Customer ID": ["cus-1001", "cus-1002", "cus-1003", "cus-1004"],
        "Transaction ID": ["INV-88121", "INV-88122", "INV-88123", "INV-88124"],
        "Transaction time": ["2026-01-21T12:00:00Z", "2026-01-21T12:05:00Z",
                             "2026-01-21T12:10:00Z", "2026-01-21T12:15:00Z"],
        "Amount": ["150.75", "80", "12.5", "999.99"],
    },
    "redemptions": {
        "Customer ID": ["cus-1001", "cus-1002", "cus-1003"],
        "Transaction ID": ["RED-5001", "RED-5002", "RED-5003"],
        "Transaction time": ["2026-01-21T13:00:00Z", "2026-01-21T13:05:00Z",
                             "2026-01-21T13:10:00Z"],
        "Points": ["50", "20", "10"],
        "Reason": ["Gift card", "Coffee", "Delivery fee"],
    },
    "events": {
        "customerId": ["cus-1001", "cus-1001", "cus-1002", "cus-1003"],
        "event": ["write_review", "visit_store", "write_review", "share_product"],
        "metadata.product_id": ["P-17", "", "P-22", "P-31"],
        "metadata.stars": ["5", "", "4", ""],
    },
}


def _type(bt: BatchType | str) -> BatchType:
    return batch_types.get(bt) if isinstance(bt, str) else bt


def example_frame(bt: BatchType | str) -> pd.DataFrame:
    """The example rows of a type, all text, index = spreadsheet row numbers (from 2)."""
    columns = _EXAMPLES[_type(bt).slug]
    rows = len(next(iter(columns.values())))
    index = pd.RangeIndex(2, rows + 2, name="row")
    return pd.DataFrame({h: pd.Series(v, dtype="str", index=index) for h, v in columns.items()})


def csv_template(bt: BatchType | str) -> bytes:
    """The template as UTF-8 CSV (with a BOM, so Excel reads Arabic and accents)."""
    return to_csv_bytes(example_frame(bt))


def xlsx_template(bt: BatchType | str) -> bytes:
    """The template as a one-sheet workbook where every cell is text."""
    return to_xlsx_bytes(example_frame(bt), sheet=_type(bt).slug)


def template_bytes(bt: BatchType | str, fmt: str) -> bytes:
    """The template in ``fmt`` ("csv" or "xlsx")."""
    if fmt == "csv":
        return csv_template(bt)
    if fmt == "xlsx":
        return xlsx_template(bt)
    raise ValueError(f"Unknown template format '{fmt}'. Choose csv or xlsx.")
