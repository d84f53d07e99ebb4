import multiprocessing
import time
from pathlib import Path

import duckdb
import pytest

from harness.errors import HarnessError
from harness.store import Store
from harness.store.migrations import MIGRATIONS


def test_migrations_are_recorded_in_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.duckdb")
    with store.connect() as con:
        rows = con.execute("select id, name from schema_migrations order by id").fetchall()
    assert rows == [(i, name) for i, (name, _) in enumerate(MIGRATIONS, 1)]
    # A second open applies nothing twice.
    with Store(tmp_path / "h.duckdb").connect() as con:
        assert con.execute("select count(*) from schema_migrations").fetchone() == (len(MIGRATIONS),)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with Store(path).connect() as con:
        con.execute("insert into schema_migrations (id, name) values (999, '0999_from_the_future')")
    with pytest.raises(HarnessError, match=r"0999_from_the_future.*upgrade"), Store(path).connect():
        pass


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    path.write_text("this is not a database\n" * 100)
    with pytest.raises(HarnessError, match="not a DuckDB database"), Store(path).connect():
        pass


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="is a directory"), Store(tmp_path).connect():
        pass


def _hold_lock(path: str, seconds: float, ready) -> None:  # type: ignore[no-untyped-def]
    con = duckdb.connect(path)
    ready.set()
    time.sleep(seconds)
    con.close()


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with Store(path).connect():
        pass
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(path), 3.0, ready))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(HarnessError, match="locked by another process"), Store(path, wait_s=0.5).connect(True):
            pass
        # A patient opener gets in once the other process lets go.
        with Store(path, wait_s=30).connect(read_only=True) as con:
            assert con.execute("select count(*) from runs").fetchone() == (0,)
    finally:
        holder.join()


def test_reader_needs_an_existing_database(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no database"), Store(tmp_path / "missing.duckdb").connect(True):
        pass
