"""Settings: connection, limits, access and sandbox controls (a thin page).
"""

from gameball_batch.ui import settings_view
from gameball_batch.ui.routing import hand_over


def render() -> None:
    """The page's body; ``app.py`` registers it with ``st.Page(render, …)``."""
    settings_view.render()


# Run alone by URL (a fresh process, a shared link), this file hands over to app.py, so the
# sign-in gate, banner and role filter run first. Imported by app.py, it only defines render.
if __name__ == "__main__":
    hand_over(__file__)
