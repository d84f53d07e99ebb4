"""Migration 0009_traffic: a team's own traffic as suites, and the incumbent's logged answers as runs.

- `runs.source`: 'live' (a provider answered) or 'imported' (answers read from a team's log by
  `harness traffic import --incumbent`; no provider was called).
- `generations.json_decoding`: for a request with a JSON response format, how the answer was held
  to it: 'api' (the provider's own JSON mode), 'constrained' (a grammar in local decoding) or
  'unconstrained' (asked in the prompt only); null for other requests.
- `traffic_imports`: one row per import: the file's hash, its shape, how many requests of each kind,
  how many credentials were removed and whether personal data was masked (`--redact`), so a report
  can say what its traffic suite is made of. Never the traffic itself: that lives in tasks/traffic/.
Shipped: never edit; change the schema in a new migration.
"""

from __future__ import annotations

import duckdb


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("alter table runs add column source varchar default 'live'")
    con.execute("update runs set source = 'live'")
    con.execute("alter table generations add column json_decoding varchar")
    con.execute("""
        create table traffic_imports (
            suite varchar not null, imported_at timestamp not null, file_name varchar not null,
            file_sha256 varchar not null, shape varchar not null, n_requests integer not null,
            n_tools integer not null, n_json integer not null, n_text integer not null,
            n_without_expected integer not null, credentials_removed integer not null,
            redacted boolean not null, redactions integer not null, incumbent varchar, run_id varchar,
            primary key (suite, imported_at))""")
