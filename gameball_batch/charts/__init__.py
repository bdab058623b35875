"""Plotly figure builders for the console: pure functions, tested without Streamlit.

``intake`` draws the new-batch figures (issues by rule, distribution of amounts or points);
``jobs`` draws the jobs page's figures. Nothing here imports streamlit, reads the ledger
or touches the network.
"""
