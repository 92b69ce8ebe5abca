"""What the tests and benchmarks share: real parts (a Neo4j server, photos, the command line, the app
and the browser), one module each; the root conftest.py registers their fixtures."""
