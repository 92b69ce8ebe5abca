"""Pictures to vectors: decoding files safely, the models by name, the runtime (OpenVINO or torch),
embedding and thumbnails. It imports only `retrieval.core`, never the storage layer."""
