"""What only the Streamlit app needs from the library: the indexing job, who may change the index,
the search's graph of thumbnails and the demo photos' credits. Plain Python, no Streamlit."""
