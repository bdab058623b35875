"""gameball-batch console: router and frame (placeholder until the console issue lands)."""

import streamlit as st

st.set_page_config(page_title="gameball-batch", page_icon="🎯", layout="wide")
st.title("gameball-batch")
st.write("Push spreadsheets into Gameball's Batch API, every row exactly once.")
