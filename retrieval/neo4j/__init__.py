"""The storage layer: which Neo4j (connection, the local server) and the store, split by concern (images,
links, catalogue, statistics), each concern's Cypher beside the code that runs it. It imports only
`retrieval.core`: never torch, OpenVINO or Streamlit."""
