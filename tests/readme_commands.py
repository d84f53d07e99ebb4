"""The commands README.md shows, found the way a reader finds them (tests/test_readme.py says what counts).

Three places hold commands: the lines of ```sh blocks, the first cell of a table row when it is one
code span starting with `harness ` or `make ` (the Commands table), and inline code spans in prose
that start with `harness `, `make ` or `.venv/bin/`. Each command is keyed by its text with every run
of whitespace collapsed to one space (a continuation or a query written over several lines reads as one
line); the script bash runs keeps the text as written, comments dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_TABLE_COMMAND = re.compile(r"^\|\s*`((?:harness|make) [^`]+)`\s*\|")
_SPAN = re.compile(r"`([^`\n]+)`")
_INLINE_PREFIXES = ("harness ", "make ", ".venv/bin/")
# Upper-case words such as NAME, FILE, SIDE, RUN_ID or PROFILE stand for a value the reader supplies.
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]{2,}$")


@dataclass(frozen=True)
class ReadmeCommand:
    key: str  # the text, whitespace collapsed: what the test's table is keyed by
    script: str  # the text as written, comments dropped: what bash runs
    where: str  # "sh block", "table" or "inline"


def collapse(text: str) -> str:
    return " ".join(text.replace("\\\n", " ").split())


def _comment_starts(text: str) -> bool:
    """A `#` starts a comment at the start of a command or after whitespace, as in bash."""
    return not text.strip() or text[-1].isspace()


def shell_commands(block: str) -> list[str]:
    """The commands of a sh block: comments dropped; a backslash-newline or a newline inside quotes
    continues the command, any other newline ends it."""
    commands: list[str] = []
    current, quote, i = "", "", 0
    while i < len(block):
        char = block[i]
        if quote:
            current += char
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote, current = char, current + char
        elif char == "\\" and i + 1 < len(block):
            current, i = current + block[i : i + 2], i + 1
        elif char == "#" and _comment_starts(current):
            while i + 1 < len(block) and block[i + 1] != "\n":
                i += 1
        elif char == "\n":
            commands.append(current)
            current = ""
        else:
            current += char
        i += 1
    commands.append(current)
    return [command.strip() for command in commands if command.strip()]


def readme_commands(readme: str) -> list[ReadmeCommand]:
    """Every command README.md shows, in the order it shows them (one entry per distinct key)."""
    found: dict[str, ReadmeCommand] = {}

    def add(script: str, where: str) -> None:
        found.setdefault(collapse(script), ReadmeCommand(collapse(script), script, where))

    for language, block in _FENCE.findall(readme):
        if language == "sh":
            for command in shell_commands(block):
                add(command, "sh block")
    for line in _FENCE.sub("", readme).splitlines():
        table = _TABLE_COMMAND.match(line)
        if table:
            add(table.group(1), "table")
            line = line[table.end():]
        for span in _SPAN.findall(line):
            if span.startswith(_INLINE_PREFIXES):
                add(span, "inline")
    return list(found.values())


def is_mention(key: str) -> bool:
    """Whether a span only names a command: after the command's words, nothing but options without
    values, or a placeholder for the reader's own value (`harness eval -t NAME`). Only such a span
    may be checked by name instead of run."""
    words = re.sub(r"\[[^\]]*\]", " ", key).split()
    if any(_PLACEHOLDER.match(word) for word in words):
        return True
    return all(word.startswith("-") for word in words[1 + len(command_words(key)):])


def command_words(key: str) -> list[str]:
    """The command and subcommand names a span starts with (`harness judge rubric -c SIDE` -> judge rubric)."""
    words = []
    for word in key.split()[1:]:
        if not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        words.append(word)
    return words


def options_named(key: str) -> list[str]:
    """The options a span names (`[--scale pass-fail|1-5]` -> --scale)."""
    return re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", key)
