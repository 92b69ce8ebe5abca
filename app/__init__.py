"""The Streamlit app's pages and parts, one module each; `streamlit_app.py` draws them. Everything
that is not UI lives in the `retrieval` library, which never imports Streamlit or this package."""
