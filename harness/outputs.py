"""Paths a user names for the harness to write (`report -o`, `export -o`): what is already there is
replaced only when the harness wrote it, or the user said `--force`.

The harness knows its own output by a generator mark it puts near the top of every file it writes
there: a `<meta name="generator">` in HTML, a first-line comment in Markdown, a `generator` key in a
shard's manifest. A file without the mark may be anything (a database, notes, a traffic log), so it
is refused; a DuckDB database gets its own message, since replacing one loses every run in it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from harness import __version__
from harness.errors import HarnessError

GENERATOR = f"lockin-harness {__version__}"
HTML_MARK = f'<meta name="generator" content="{GENERATOR}">'
MARKDOWN_MARK = f"<!-- generator: {GENERATOR} -->"
MANIFEST_MARK = {"generator": GENERATOR}
# The marks without the version: output of any earlier or later harness is ours too.
_MARKS = (b'<meta name="generator" content="lockin-harness ', b"<!-- generator: lockin-harness ",
          b'"generator": "lockin-harness ')
# Reports written before the mark existed, known by how they begin, so `make report` after an upgrade
# still replaces its own runs/report.html without --force.
_EARLIER = (b"# Lock-in review: ", b"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            b"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            b"img-src data:\">\n<title>Lock-in review: ")
_HEAD_BYTES = 2048  # the marks sit in the first lines; never read a whole (possibly huge) file
_DUCKDB_MAGIC = b"DUCK"  # at byte 8 of every DuckDB file, after a checksum


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(_HEAD_BYTES)
    except OSError:
        return b""  # unreadable: not recognisably ours


def written_by_harness(path: Path) -> bool:
    """Whether `path` is a file that carries the harness's generator mark."""
    head = _head(path)
    return any(mark in head for mark in _MARKS) or head.startswith(_EARLIER)


def _kind(path: Path) -> str:
    return "a DuckDB database" if _head(path)[8:12] == _DUCKDB_MAGIC else "a file lockin-harness did not write"


def claim_file(path: Path, what: str, force: bool, role: str = "") -> str:
    """Check that `path` may be written as `what` (e.g. "report"); return how it will be written:
    "" (new), "replacing an earlier one" (ours) or "overwriting it: --force".

    Raises HarnessError for a directory (even with --force: a folder tree is not replaced by a file)
    and, without --force, for an existing file that is not ours. `role` names a file the user did
    not name (e.g. "the Markdown twin of x.html") so the refusal says why it is involved at all."""
    named = f"{path} ({role})" if role else str(path)
    if path.is_dir():
        raise HarnessError(f"{named} is a directory, not a {what}; choose another -o (a file name)")
    if not (path.exists() or path.is_symlink()):
        return ""
    if written_by_harness(path):
        return "replacing an earlier one"
    if force:
        return "overwriting it: --force"
    kind = _kind(path)
    if kind == "a DuckDB database":
        raise HarnessError(f"{named} is a DuckDB database, not a {what}; choose another -o")
    raise HarnessError(f"{named} exists and is {kind}; choose another -o, or --force to overwrite it")


def claim_folder(folder: Path, what: str, force: bool, manifest: str = "manifest.json") -> str:
    """As `claim_file`, for an output that is a folder holding `manifest` (which carries the mark).

    A missing or empty folder is new; a folder of ours is replaced; a file is replaced only with
    --force. A folder of other files is refused even with --force: deleting a tree of files the
    harness cannot recognise is never what `-o` meant."""
    if folder.is_file() or (folder.is_symlink() and not folder.is_dir()):
        if force:
            return "overwriting the file there: --force"
        kind = _kind(folder)
        if kind == "a DuckDB database":
            raise HarnessError(f"{folder} is a DuckDB database, not a {what} folder; choose another -o")
        raise HarnessError(f"{folder} is {kind}, not a {what} folder; choose another -o, "
                           "or --force to overwrite it")
    if not folder.is_dir() or not any(folder.iterdir()):
        return ""
    if written_by_harness(folder / manifest):
        return "replacing an earlier one"
    count = sum(1 for _ in folder.iterdir())
    raise HarnessError(f"{folder} is a folder of other files ({count} entries), not a {what}; choose another -o "
                       "(a new or empty folder)")


def parent_folder(path: Path) -> None:
    """Refuse an output whose parent is a file (mkdir would fail half-way with a traceback)."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise HarnessError(f"cannot write {path}: {parent} is a file, not a folder")
            return


def how(path: Path, state: str) -> str:
    """`path` as an announcement names it: with what happens to what is there, if anything."""
    return f"{path} ({state})" if state else str(path)


def write_together(pages: dict[Path, str], what: str) -> None:
    """Write every page, all or none: each goes to a temporary file beside its target first and is
    renamed into place only when all are written. Raises HarnessError (one line) on a disk error."""
    staged: list[Path] = []
    first = next(iter(pages))
    try:
        for path in pages:
            path.parent.mkdir(parents=True, exist_ok=True)
        for path, text in pages.items():
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                             delete=False) as handle:
                staged.append(Path(handle.name))
                handle.write(text)
            os.chmod(staged[-1], 0o644)  # a page to share, not a secret (temporary files start 0600)
        for temporary, path in zip(staged, pages, strict=True):
            os.replace(temporary, path)
    except OSError as exc:
        for temporary in staged:
            temporary.unlink(missing_ok=True)
        raise HarnessError(f"cannot write the {what} to {first.parent}: {exc.strerror or exc}") from exc
