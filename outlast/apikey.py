"""API keys as text: `olk_<id>_<secret>`, and where a client finds its key.

`<id>` (12 hex digits) is public: it names the key in logs, in `outlast keys list` and on every
decision the key makes. `<secret>` (32 random bytes, base64url) is shown once, at creation; the
server keeps only its SHA-256. A plain hash is enough here, and a slow one (argon2, bcrypt)
would buy nothing: those exist to slow the guessing of low-entropy passwords from a stolen
hash, and a 256-bit random secret cannot be guessed from its SHA-256 at any speed. A slow hash
would instead cost every request tens of milliseconds of CPU.

A client's key, in order: an explicit one, $OUTLAST_API_KEY, then the file `make start` writes,
`<OUTLAST_DATA_DIR or .data>/admin.key` (mode 0600).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

PREFIX = "olk_"
KEY_FILE = "admin.key"
_TOKEN = re.compile(r"^olk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class Minted:
    """A new key: `token` goes to its owner once; `digest` is what the server stores."""

    key_id: str
    token: str
    digest: bytes


def mint() -> Minted:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return Minted(key_id, f"{PREFIX}{key_id}_{secret}", digest(secret))


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse(token: str) -> tuple[str, str] | None:
    """(public id, secret) of a well-formed key; None for anything else."""
    match = _TOKEN.match(token)
    return (match[1], match[2]) if match else None


def display_id(key_id: str) -> str:
    """How a key is named where people read it: `olk_<id>` (never the secret)."""
    return f"{PREFIX}{key_id}"


def key_file(data_dir: Path | str | None = None) -> Path:
    return Path(data_dir or os.environ.get("OUTLAST_DATA_DIR") or ".data") / KEY_FILE


def write_key_file(path: Path, token: str) -> None:
    """Write the key readable by its owner only (created 0600, never briefly wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    path.chmod(0o600)


def read_key_file(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def find_key(explicit: str | None = None) -> str | None:
    """The key a client should send, or None when it has none."""
    return explicit or os.environ.get("OUTLAST_API_KEY") or read_key_file(key_file())
