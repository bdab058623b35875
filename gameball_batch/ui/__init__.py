"""Streamlit helpers shared by the pages: the only streamlit importer inside the package."""
