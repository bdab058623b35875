"""gameball-batch: push spreadsheets into Gameball's Batch API, every row exactly once.

The package holds everything but the screens: batch-type specs, ingest, mapping,
validation, payload building, the HTTP client, the ledger, the runner, the embedded
sandbox and the CLI. Only ``gameball_batch.ui`` may import streamlit.
"""

__version__ = "0.1.0"
