"""SHA-256 digests, the one way content is hashed here (profiles, requests, templates, files)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_hex(data: bytes | str, length: int | None = None) -> str:
    """Hex digest of bytes (or UTF-8 text), cut to `length` characters when given."""
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:length]


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex digest of a file, read in chunks (model weights do not fit in memory twice)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
