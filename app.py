"""gameball-batch console: the router and frame, nothing else.

Page config, the sign-in gate, the environment banner (sandbox or production, and where
requests go), the shared sidebar, and ``st.navigation`` over the pages in ``pages/`` that
the person's roles allow (``ui/access_view.py``). Each page file only defines ``render()``;
run alone by URL (before the first ``st.navigation`` of a process, Streamlit serves
``pages/*.py`` that way) it hands over to this router, which then opens the page it was
asked for (``ui/routing.py``). Process-level resources (the embedded sandbox, the runner)
start here once per process through ``gameball_batch.ui.services``.
"""

import streamlit as st

from gameball_batch.ui import access_view, frame, routing
from pages import approvals, history, jobs, new_batch, settings

RENDERS = {
    "new_batch": new_batch.render,
    "jobs": jobs.render,
    "approvals": approvals.render,
    "history": history.render,
    "settings": settings.render,
}

st.set_page_config(
    page_title="gameball-batch",
    page_icon=":material/rocket_launch:",
    layout="wide",
    initial_sidebar_state="expanded",
)

config = frame.load_settings_or_stop()
frame.sign_in_gate(config)
# Only the pages this person's roles allow are in the navigation at all.
allowed = access_view.navigation_pages(config, RENDERS)
if not allowed:
    access_view.no_role_stop(config)
connection = frame.connection_or_stop()
runner_problem = frame.start_runner()

page = st.navigation(list(allowed.values()), position="sidebar")
routing.follow_hand_over(allowed, page)
frame.banner(connection)
frame.sidebar(connection, runner_problem)
access_view.sign_in_panel(config)
page.run()
