"""lockin-harness: measure LLM vendor lock-in by running the same suites on open and proprietary models."""

__version__ = "0.1.0"
