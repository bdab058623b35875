"""History: the append-only audit trail of every job and decision, filterable and exportable.

A thin screen: everything is in ``gameball_batch.ui.jobs_view``. It only reads the ledger.
"""

from gameball_batch.ui.jobs_view import render_history_page

render_history_page()
