"""Settings: connection, limits, access and sandbox controls (a thin screen)."""

from gameball_batch.ui import settings_view

settings_view.render()
