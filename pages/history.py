"""History page (placeholder: the jobs helper owns this file)."""

import streamlit as st

st.info("The history page is being built.")
