"""Jobs: the job list and one job's live detail (``?job=<id>``), its errors, downloads, actions.

A thin screen: everything is in ``gameball_batch.ui.jobs_view``. It only reads the ledger
and records operator decisions; the runner's thread does all sending.
"""

from gameball_batch.ui.jobs_view import render_jobs_page

render_jobs_page()
