"""gameball-batch console: the router and frame, nothing else.

Page config, the sign-in gate, the environment banner (sandbox or production, and where
requests go), the shared sidebar, and ``st.navigation`` over the files in ``screens/`` that
the person's roles allow (``ui/access_view.py``). The folder is deliberately not called
``pages/``: Streamlit auto-discovers that folder and serves its files by URL, without this
router, until the first run of ``st.navigation`` in a process. Process-level resources
(the embedded sandbox, the runner) start here once per process through
``gameball_batch.ui.services``. Page content lives in the page files and the package.
"""

import streamlit as st

from gameball_batch.ui import access_view, frame

st.set_page_config(
    page_title="gameball-batch",
    page_icon=":material/rocket_launch:",
    layout="wide",
    initial_sidebar_state="expanded",
)

settings = frame.load_settings_or_stop()
frame.sign_in_gate(settings)
# Only the pages this person's roles allow are in the navigation at all.
pages = access_view.navigation_pages(settings)
if not pages:
    access_view.no_role_stop(settings)
connection = frame.connection_or_stop()
runner_problem = frame.start_runner()

page = st.navigation(pages, position="sidebar")
frame.banner(connection)
frame.sidebar(connection, runner_problem)
access_view.sign_in_panel(settings)
page.run()
