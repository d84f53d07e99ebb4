"""Reading a user's line-based file (JSONL) as text, with problems named by line, never by byte offset;
writing generated folders (tasks, shards) whole."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError


def text_lines(path: Path, max_line_bytes: int | None = None) -> list[str]:
    """The file's lines as text; a byte that is not UTF-8 is refused with its line and column (a byte
    offset means nothing to someone holding the file in an editor), and so is a line over
    `max_line_bytes`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise HarnessError(f"cannot read {path}: {exc.strerror or exc}") from exc
    lines = []
    for number, line in enumerate(raw.splitlines(), 1):
        if max_line_bytes is not None and len(line) > max_line_bytes:
            raise HarnessError(f"{path}: line {number} is {len(line):,} bytes, over the {max_line_bytes:,}-byte "
                               "limit for one record")
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise HarnessError(f"{path}: line {number} is not UTF-8 text (byte 0x{line[exc.start]:02x} at column "
                               f"{exc.start + 1}); save the file as UTF-8") from exc
    return lines


def lm_eval_yaml(config: dict[str, Any], functions: dict[str, str]) -> str:
    """An lm-eval task YAML; each value equal to a key of `functions` becomes a `!function module.attr`
    tag, which lm-eval resolves against modules beside the YAML."""
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    for placeholder, function in functions.items():
        text = text.replace(f": {placeholder}\n", f": !function {function}\n")
    return text


def write_folder(target: Path, files: dict[str, str]) -> None:
    """Write `files` into `target` all at once (see `staged_folder`)."""
    with staged_folder(target) as staging:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A folder to fill, put in place of `target` (a folder or, when forced, a file) only when the
    block ends without error, so a reader never sees half a folder and a failure leaves the old one
    as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # files to share, not secrets (a temporary folder starts 0700)
    old = staging.with_name(staging.name + ".old")
    try:
        yield staging
        had_old = target.exists() or target.is_symlink()
        if had_old:
            target.rename(old)  # moved aside, not deleted, until the new folder is in place
        try:
            staging.rename(target)
        except OSError:
            if had_old:
                old.rename(target)
            raise
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        elif had_old:
            old.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
