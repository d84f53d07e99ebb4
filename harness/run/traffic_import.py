"""`harness traffic import`: a team's logged requests become a suite, and, with `--incumbent`, the
logged answers become a run of the incumbent's profile (`source = imported`), so a comparison against
the incumbent needs no API spend.

Order matters for "nothing written until all is valid": every line is read and checked, the profile
and the database are opened, and only then are files written; if the imported run cannot be stored,
the files are taken back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.config.names import check_name
from harness.config.paths import default_db
from harness.config.profiles import load_profile
from harness.config.suites import available_suites
from harness.digest import file_sha256
from harness.errors import HarnessError
from harness.run.replay import request_from_body
from harness.run.tasks import existing_task
from harness.store import Store
from harness.store.traffic import record_import
from harness.traffic.docs import KINDS, to_doc
from harness.traffic.read import Traffic, read_traffic
from harness.traffic.records import TrafficProblem
from harness.traffic.redact import redact_messages
from harness.traffic.rhythm import Rhythm, rhythm_of, token_spreads
from harness.traffic.suite_files import imported_suites, remove_suite, suite_paths, write_suite


@dataclass
class ImportOptions:
    path: Path
    name: str
    incumbent: str | None = None  # profile whose logged answers become an imported run
    batch_output: Path | None = None  # the Batch API output file that goes with an input file
    redact: bool = False  # mask e-mails, phone and card numbers in message text
    max_tokens: int = 512  # least token cap for a request whose body sets none (harness.traffic.replay.token_cap)
    force: bool = False  # replace an earlier import of the same name
    db: Path | None = None


@dataclass
class ImportOutcome:
    name: str
    shape: str
    counts: dict[str, int]
    without_expected: int
    credentials_removed: int
    redactions: int
    suite_file: Path
    rhythm: Rhythm
    run_id: str | None = None
    notes: list[str] = field(default_factory=list)  # what the reader skipped, and why


def _check_name(options: ImportOptions) -> None:
    name = check_name("suite", options.name)
    if name in imported_suites() or suite_paths(name)[1].exists():
        if name not in imported_suites():
            raise HarnessError(f"suite '{name}' already exists and is not imported traffic; choose another name")
        if not options.force:
            raise HarnessError(f"traffic suite '{name}' was imported before; pass --force to replace it")
    for kind in KINDS:
        taken = existing_task(f"{name}_{kind}")
        if taken is not None and "traffic" not in Path(taken).parts:
            raise HarnessError(f"task '{name}_{kind}' already exists ({taken}); choose another name")
    if name in available_suites() and name not in imported_suites():
        raise HarnessError(f"suite '{name}' already exists; choose another name")


def _redact(traffic: Traffic) -> int:
    count = 0
    for index, record in enumerate(traffic.records):
        messages, found = redact_messages(record.request["messages"])
        response = record.response
        if response is not None:
            choices, more = redact_messages(response["choices"])
            response, found = {**response, "choices": choices}, found + more
        reference, more = redact_messages([record.reference]) if record.reference is not None else ([None], 0)
        traffic.records[index] = replace(record, request={**record.request, "messages": messages},
                                         response=response, reference=reference[0])
        count += found + more
    return count


def _docs(traffic: Traffic, path: Path) -> tuple[dict[str, list[dict[str, Any]]], set[str]]:
    docs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    features: set[str] = set()
    for record in traffic.records:
        try:
            kind, doc = to_doc(record)
            features |= request_from_body(record.request).needs()
        except TrafficProblem as exc:
            raise HarnessError(f"{path}: {record.place}: {exc}") from None
        docs[kind].append(doc)
    return docs, features


def _utc(at: float | None) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).replace(tzinfo=None)


def _rhythm_columns(rhythm: Rhythm) -> dict[str, Any]:
    return {"n_timed": rhythm.n_timed, "first_at": _utc(rhythm.first_at), "last_at": _utc(rhythm.last_at),
            "requests_per_day": rhythm.requests_per_day, "busiest_minute": rhythm.busiest_minute,
            "peak_factor": rhythm.peak_factor, "rhythm_note": rhythm.note}


def _imported_run(profile: str, suite: str, db: Path) -> str:
    from harness.run.runner import EvalOptions, run_eval

    # Every request has its logged answer, so none may be missing: a budget of 0 errors.
    outcome = run_eval(EvalOptions(provider=profile, suite=suite, db=db, cache=False, imported=True,
                                   max_error_rate=0.0))
    return outcome.run_id


def import_traffic(options: ImportOptions) -> ImportOutcome:
    """Read, check, (redact,) write the suite, then store the incumbent's logged answers as a run of
    its profile. Raises HarnessError with one line."""
    _check_name(options)
    traffic = read_traffic(options.path, options.batch_output)
    if options.incumbent is not None:
        load_profile(options.incumbent)
        unanswered = [r.place for r in traffic.records if r.response is None]
        if unanswered:
            raise HarnessError(f"{options.path}: {unanswered[0]} has no logged answer; --incumbent needs "
                               f"one per request ({len(unanswered)} without)")
    redactions = _redact(traffic) if options.redact else 0
    docs, features = _docs(traffic, options.path)
    db = options.db or default_db()
    store = Store(db)
    with store.connect():  # a locked, foreign or newer database is refused before anything is written
        pass
    without = sum(doc["expected"] is None for items in docs.values() for doc in items)
    note = (f"{len(traffic.records)} requests from {options.path.name} ({traffic.shape} lines, sha256 "
            f"{file_sha256(options.path)[:16]}), imported {datetime.now(UTC):%Y-%m-%d}"
            + (", personal data masked" if options.redact else ""))
    rhythm = rhythm_of([record.at for record in traffic.records])
    suite = write_suite(options.name, docs, sorted(features), options.max_tokens, note)
    run_id = None
    try:
        if options.incumbent is not None:
            run_id = _imported_run(options.incumbent, options.name, db)
        record_import(store, {
            "suite": options.name, "imported_at": datetime.now(UTC).replace(tzinfo=None),
            "file_name": options.path.name, "file_sha256": file_sha256(options.path), "shape": traffic.shape,
            "n_requests": len(traffic.records), **{f"n_{kind}": suite.counts.get(kind, 0) for kind in KINDS},
            "n_without_expected": without, "credentials_removed": traffic.credentials_removed,
            "redacted": options.redact, "redactions": redactions, "incumbent": options.incumbent, "run_id": run_id,
            **_rhythm_columns(rhythm),
        }, token_spreads(traffic.records))
    except BaseException:
        remove_suite(options.name)
        raise
    return ImportOutcome(options.name, traffic.shape, suite.counts, without, traffic.credentials_removed,
                         redactions, suite.suite_file, rhythm, run_id, traffic.notes)
