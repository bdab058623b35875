"""New batch: upload → map → validate & fix → review impact → submit.

A thin page: the steps live in ``gameball_batch.ui.intake_view``; the work in the package.
"""

from gameball_batch.ui import intake_view
from gameball_batch.ui.routing import hand_over


def render() -> None:
    """The page's body; ``app.py`` registers it with ``st.Page(render, …)``."""
    intake_view.render()


# Run alone by URL (a fresh process, a shared link), this file hands over to app.py, so the
# sign-in gate, banner and role filter run first. Imported by app.py, it only defines render.
if __name__ == "__main__":
    hand_over(__file__)
