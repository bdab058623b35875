"""gameball-batch console: the router and frame, nothing else.

Page config, the sign-in gate, the environment banner (sandbox or production, and where
requests go), the shared sidebar, and ``st.navigation`` over the files in ``pages/``
(wired explicitly, so Streamlit's auto-discovery never applies). Process-level resources
(the embedded sandbox, the runner) start here once per process through
``gameball_batch.ui.services``. Page content lives in the page files and the package.
"""

import streamlit as st

from gameball_batch.ui import frame

st.set_page_config(
    page_title="gameball-batch",
    page_icon=":material/rocket_launch:",
    layout="wide",
    initial_sidebar_state="expanded",
)

settings = frame.load_settings_or_stop()
frame.sign_in_gate(settings)
connection = frame.connection_or_stop()
runner_problem = frame.start_runner()

pages = [
    st.Page(
        "pages/new_batch.py", title="New batch", icon=":material/upload_file:", url_path="new",
        default=True,
    ),
    st.Page("pages/jobs.py", title="Jobs", icon=":material/monitoring:", url_path="jobs"),
    st.Page("pages/history.py", title="History", icon=":material/history:", url_path="history"),
    st.Page("pages/settings.py", title="Settings", icon=":material/settings:", url_path="settings"),
]
page = st.navigation(pages, position="sidebar")
frame.banner(connection)
frame.sidebar(connection, runner_problem)
page.run()
