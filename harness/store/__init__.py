"""The DuckDB store: connections, migrations, and the run/sample writes."""

from harness.store.db import Store

__all__ = ["Store"]
