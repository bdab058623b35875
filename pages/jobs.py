"""Jobs: the job list and one job's live detail (``?job=<id>``), its errors, downloads, actions.

A thin page: the widgets are in ``gameball_batch.ui.jobs_view`` and what they show in
``jobs_model``. It only reads the ledger and records operator decisions; the runner's
thread does all sending.
"""

from gameball_batch.ui import jobs_view
from gameball_batch.ui.routing import hand_over


def render() -> None:
    """The page's body; ``app.py`` registers it with ``st.Page(render, …)``."""
    jobs_view.render()


# Run alone by URL (a fresh process, a shared link), this file hands over to app.py, so the
# sign-in gate, banner and role filter run first. Imported by app.py, it only defines render.
if __name__ == "__main__":
    hand_over(__file__)
