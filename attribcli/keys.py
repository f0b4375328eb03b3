"""Keyed hashes: HMAC-SHA256 under the key in ``ATTRIB_SIGNING_KEY``, for statements and the ledger's chain.

A plain hash shows that something changed; only a keyed one shows who may have changed it. Imports
nothing of attrib but its error type, so money/ and reports/ can both key what they write.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from attribcli.errors import AttribError

KEY_VAR = "ATTRIB_SIGNING_KEY"


def sign(data: bytes, key: bytes) -> str:
    """Hex HMAC-SHA256 of ``data``; an empty key is refused (it would sign nothing)."""
    if not isinstance(data, (bytes, bytearray)) or not isinstance(key, (bytes, bytearray)):
        raise TypeError("sign() takes bytes data and a bytes key")
    if not key:
        raise ValueError("refusing to sign with an empty key")
    return hmac.new(bytes(key), bytes(data), hashlib.sha256).hexdigest()


def verify_signature(data: bytes, key: bytes, signature: str) -> bool:
    """True iff ``signature`` is the HMAC-SHA256 of ``data`` under ``key``.

    Compared in constant time (hmac.compare_digest) so timing does not reveal how many
    leading characters of a forged signature were right. Malformed input gives False.
    """
    if not isinstance(signature, str) or not signature.isascii():
        return False
    try:
        expected = sign(data, key)
    except (TypeError, ValueError):
        return False
    return hmac.compare_digest(expected, signature.lower())


def key_from_env(var: str = KEY_VAR) -> bytes | None:
    """The signing key from environment variable ``var``, or None when it is unset.

    Set-but-empty (or only whitespace) is an error rather than "unsigned": it usually
    means a secret failed to load, and silently producing unsigned statements would hide
    that. The value's bytes are used as-is (os.fsencode), no decoding.
    """
    value = os.environ.get(var)
    if value is None:
        return None
    if not value.strip():
        raise AttribError("the signing key variable is set but empty", field=var,
                          fix=f"put the HMAC key in {var}, or unset {var} to write unsigned "
                              "statements")
    return os.fsencode(value)
