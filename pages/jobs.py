"""Jobs page (placeholder: the jobs helper owns this file)."""

import streamlit as st

st.info("The jobs page is being built.")
