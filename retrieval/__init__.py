"""Image similarity search on Neo4j: decode, embed, store and search images by example."""
