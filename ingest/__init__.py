"""Reading documents into records: loaders, Vietnamese text, parsers, registries."""

from pathlib import Path

# The sample corpus that ships with the project as package data (sources and licences beside it):
# `sapxep ingest --sample` and `make run` without DOCS ingest it; the tests run on it.
SAMPLE_CORPUS = Path(__file__).resolve().parent / "sample_corpus" / "documents"
