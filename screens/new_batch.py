"""New batch: upload → map → validate & fix → review impact → submit.

A thin screen: the steps live in ``gameball_batch.ui.intake_view``; the work in the package.
"""

from gameball_batch.ui import intake_view

intake_view.render()
