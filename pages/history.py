"""History: the append-only audit trail of every job and decision, filterable and exportable.

A thin page: everything is in ``gameball_batch.ui.history_view``. It only reads the ledger.
"""

from gameball_batch.ui import history_view
from gameball_batch.ui.routing import hand_over


def render() -> None:
    """The page's body; ``app.py`` registers it with ``st.Page(render, …)``."""
    history_view.render()


# Run alone by URL (a fresh process, a shared link), this file hands over to app.py, so the
# sign-in gate, banner and role filter run first. Imported by app.py, it only defines render.
if __name__ == "__main__":
    hand_over(__file__)
