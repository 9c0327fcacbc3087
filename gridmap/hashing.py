"""The stored form of bearer secrets (API tokens, reporter tokens): SHA-256 hex.

They are 128+ random bits, so a fast hash is enough (no salt or stretching as for passwords):
a leaked database then holds nothing a client could present.
"""

from __future__ import annotations

import hashlib


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest of a random token, as stored."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
