"""The bottom layer: errors, settings, vector spaces, batching, blending and metrics, plain Python and
numpy. It imports nothing else of `retrieval`."""
