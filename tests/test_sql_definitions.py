"""Every view and macro has one current definition (harness/store/sql/), applied by hash."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import duckdb
import pytest

from harness.errors import HarnessError
from harness.store import Store, sql
from harness.store.migrations import MIGRATIONS
from harness.store.sql import ALL, Definition

ROOT = Path(__file__).resolve().parent.parent
_CREATE = re.compile(r"\bcreate\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+)?(?:view|macro)\s+(\w+)", re.IGNORECASE)


def _objects(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    views = con.execute("select view_name from duckdb_views() where not internal").fetchall()
    macros = con.execute("select function_name from duckdb_functions()"
                         " where function_type in ('macro', 'table_macro') and not internal").fetchall()
    return {**{name: "view" for (name,) in views}, **{name: "macro" for (name,) in macros}}


def _recorded(path: Path) -> dict[str, tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("select name, kind, sha256, applied_at from schema_objects").fetchall()
    finally:
        con.close()
    return {name: (kind, sha256, applied_at) for name, kind, sha256, applied_at in rows}


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_view_and_macro_is_created_once_in_the_sql_package() -> None:
    where: dict[str, list[str]] = {}
    for source in sorted((ROOT / "harness").rglob("*.py")):
        for name in _CREATE.findall(source.read_text()):
            where.setdefault(name.lower(), []).append(str(source.relative_to(ROOT)))
    twice = {name: files for name, files in where.items() if len(files) > 1}
    outside = {name: files for name, files in where.items() if not files[0].startswith("harness/store/sql/")}
    assert not twice and not outside, (twice, outside)
    assert set(where) == {d.name for d in ALL}
    assert len(ALL) == len({d.name for d in ALL})


def test_a_definition_names_what_it_creates() -> None:
    with pytest.raises(ValueError, match="create or replace view other"):
        Definition("other", "view", "create or replace view this as select 1")


def test_a_fresh_database_has_every_definition_with_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with Store(path).connect() as con:
        objects = _objects(con)
        assert con.execute("select * from migration('a', 'b')").fetchall() == []
        assert con.execute("select lh_fixable_by('truncated')").fetchone() == ("token cap",)
    assert {d.name: d.kind for d in ALL}.items() <= objects.items()
    assert {name: row[:2] for name, row in _recorded(path).items()} == {d.name: (d.kind, d.sha256) for d in ALL}


def test_a_changed_definition_is_reapplied_and_an_unchanged_one_costs_no_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "h.duckdb"
    with Store(path).connect():
        pass
    before, digest = _recorded(path), _file_digest(path)
    # Up to date: neither a writing nor a reading connection writes anything.
    with Store(path).connect():
        pass
    with Store(path).connect(read_only=True) as con:
        assert con.execute("select count(*) from lockin_risk").fetchone() == (0,)
    assert _recorded(path) == before and _file_digest(path) == digest

    index = next(i for i, d in enumerate(ALL) if d.name == "lh_fixable_by")
    changed = dataclasses.replace(ALL[index], sql=ALL[index].sql.replace("'token cap'", "'larger token cap'"))
    monkeypatch.setattr(sql, "ALL", [*ALL[:index], changed, *ALL[index + 1:]])
    with pytest.raises(HarnessError, match="needs its SQL views updated"), Store(path).connect(read_only=True):
        pass
    with Store(path).connect() as con:
        assert con.execute("select lh_fixable_by('truncated')").fetchone() == ("larger token cap",)
    after = _recorded(path)
    assert after["lh_fixable_by"][1] == changed.sha256 != before["lh_fixable_by"][1]
    assert after["lh_fixable_by"][2] >= before["lh_fixable_by"][2]
    assert {k: v for k, v in after.items() if k != "lh_fixable_by"} == {
        k: v for k, v in before.items() if k != "lh_fixable_by"}
    with Store(path).connect(read_only=True) as con:
        assert con.execute("select lh_fixable_by('truncated')").fetchone() == ("larger token cap",)


def test_retired_and_undefined_objects_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with Store(path).connect():
        pass
    # As a database migrated before schema_objects existed: 0005's five-part score is still there.
    con = duckdb.connect(str(path))
    try:
        con.execute("drop table schema_objects")
        con.execute("create macro lh_risk_score(quality, infeasible, features, openness, price, w_quality,"
                    " w_infeasible, w_features, w_openness, w_price) as 0")
    finally:
        con.close()
    with Store(path).connect() as con:
        assert "lh_risk_score" not in _objects(con)
        assert "lh_risk_score7" in _objects(con)
    assert set(_recorded(path)) == {d.name for d in ALL}
    # A definition taken out of ALL is dropped where it was recorded (a table macro and a view here).
    con = duckdb.connect(str(path))
    try:
        con.execute("create macro lh_gone() as table select 1 as x")
        con.execute("create view gone_view as select 1 as x")
        con.execute("insert into schema_objects (name, kind, sha256) values ('lh_gone', 'macro', 'x'),"
                    " ('gone_view', 'view', 'y')")
    finally:
        con.close()
    with Store(path).connect() as con:
        objects = _objects(con)
        assert "lh_gone" not in objects and "gone_view" not in objects
    assert set(_recorded(path)) == {d.name for d in ALL}


def test_a_reader_of_a_stale_database_is_told_to_write_first(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with Store(path).connect():
        pass
    con = duckdb.connect(str(path))
    try:
        con.execute("update schema_objects set sha256 = 'stale' where name = 'migration'")
    finally:
        con.close()
    digest = _file_digest(path)
    with pytest.raises(HarnessError) as caught, Store(path).connect(read_only=True):
        pass
    message = str(caught.value)
    assert message == (f"{path} needs its SQL views updated; run any writing command (e.g. harness eval) first")
    assert "\n" not in message and _file_digest(path) == digest
    with Store(path).connect():
        pass
    with Store(path).connect(read_only=True) as con:
        assert con.execute("select count(*) from schema_objects where sha256 = 'stale'").fetchone() == (0,)


def test_apply_definitions_reports_whether_it_wrote(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "h.duckdb"))
    try:
        for _, apply in MIGRATIONS:  # the tables only, as on a fresh database before the definitions
            apply(con)
        assert sql.recorded(con) is None and not sql.is_current(None)
        assert sql.apply_definitions(con) is True
        assert sql.is_current(sql.recorded(con))
        assert sql.apply_definitions(con) is False
    finally:
        con.close()
