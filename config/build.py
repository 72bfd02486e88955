"""A digest of what the pages are made of, so a deploy never serves pages cached before it.

The campaign page, its fragments and the campaign object are cached in Redis, which outlives
a deploy: a changed template, stylesheet or model would otherwise show up only when those
entries expire. The cache key prefix carries this digest (settings.CACHES), so each release
starts with its own entries and the old ones expire unread.
"""

import hashlib
from pathlib import Path

SUFFIXES = {".html", ".txt", ".css", ".js", ".py", ".json", ".mo"}


def build_digest(root: Path, folders: tuple[str, ...]) -> str:
    """Eight hex digits of the names and contents of the files under root/folder that make
    pages (templates, static files, code, translations)."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in SUFFIXES and path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:8]
