"""Reading a user's line-based file (JSONL) as text, with problems named by line, never by byte offset."""

from __future__ import annotations

from pathlib import Path

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
