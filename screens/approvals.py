"""Approvals: jobs waiting for a second person, with their impact review; approve or reject.

A thin screen: everything is in ``gameball_batch.ui.approvals_view``.
"""

from gameball_batch.ui import approvals_view

approvals_view.render()
