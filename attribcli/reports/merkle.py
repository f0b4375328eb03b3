"""Merkle proofs for payout statements: one holder can check their own line alone.

A statement publishes one Merkle root over all of its lines. An auditor hands a rights
holder just their line plus a short audit path (about log2(n) hashes); the holder
recomputes the root and compares it with the published one, without seeing anyone
else's payout. The tree is the Merkle Tree Hash of RFC 6962 section 2.1 (Certificate
Transparency), chosen because it is specified to the byte, has independent
implementations and test vectors, and separates leaves from inner nodes (0x00 / 0x01
prefixes) so an inner node can never be passed off as a line.

Statements can also be signed with an HMAC key taken from an environment variable, so
a recipient who shares the key can tell the root came from the issuer.

Standard library only, so a holder can re-implement or audit the check easily.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from attribcli.errors import AttribError
from attribcli.keys import key_from_env, sign, verify_signature

__all__ = [
    "PROOF_FORMAT",
    "check_proof_document",
    "inclusion_proof",
    "key_from_env",
    "leaf_bytes",
    "leaf_hash",
    "merkle_root",
    "proof_document",
    "sign",
    "verify_inclusion",
    "verify_signature",
]

#: The ``format`` tag of a line-proof document; bump it if the layout or hashing changes.
PROOF_FORMAT = "attrib-line-proof-v1"

_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_SCALAR_TYPES = (str, int, bool, type(None))


# ---------------------------------------------------------------- canonical leaves

def leaf_bytes(line: dict) -> bytes:
    """The canonical bytes of one statement line: sorted-key, compact, UTF-8 JSON.

    Canonical so that anyone re-serialising the line (in any key order, after a JSON
    round trip) gets the same bytes and hence the same leaf hash. Values must be
    str/int/bool/None: a float is refused (TypeError) because money here is integer
    minor units or decimal strings, and float text is not stable across tools. Keys
    must be str, since JSON would silently turn other keys into strings and change the
    leaf after a round trip. Nested containers are refused for the same reason: a
    statement line is flat.
    """
    if not isinstance(line, dict):
        raise TypeError(f"a statement line must be a dict, not {type(line).__name__}")
    for key, value in line.items():
        if not isinstance(key, str):
            raise TypeError(f"statement line keys must be str, not {type(key).__name__}: {key!r}")
        if isinstance(value, float):
            raise TypeError(f"statement line field {key!r} is a float ({value!r}); "
                            "amounts must be integer minor units or decimal strings")
        if not isinstance(value, _SCALAR_TYPES):
            raise TypeError(f"statement line field {key!r} has type {type(value).__name__}; "
                            "only str, int, bool and None are allowed")
    text = json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


# ---------------------------------------------------------------- RFC 6962 tree hash

def leaf_hash(leaf: bytes) -> bytes:
    """RFC 6962 leaf hash, ``SHA-256(0x00 || leaf)`` (raw 32 bytes)."""
    return hashlib.sha256(b"\x00" + bytes(leaf)).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _leaf_hashes(leaves: Sequence[bytes]) -> list[bytes]:
    if isinstance(leaves, (bytes, bytearray, str)):
        raise TypeError("leaves must be a list of bytes, not a single bytes/str value")
    hashes = []
    for i, leaf in enumerate(leaves):
        if not isinstance(leaf, (bytes, bytearray)):
            raise TypeError(f"leaf {i} must be bytes, not {type(leaf).__name__}")
        hashes.append(leaf_hash(leaf))
    return hashes


def _subtree_root(hashes: list[bytes], lo: int, hi: int) -> bytes:
    """MTH over the leaf hashes ``hashes[lo:hi]`` (hi > lo)."""
    n = hi - lo
    if n == 1:
        return hashes[lo]
    k = _split(n)
    return _node_hash(_subtree_root(hashes, lo, lo + k), _subtree_root(hashes, lo + k, hi))


def merkle_root(leaves: Sequence[bytes]) -> str:
    """Hex Merkle Tree Hash (RFC 6962 2.1) of ``leaves``; the empty tree is SHA-256("")."""
    hashes = _leaf_hashes(leaves)
    if not hashes:
        return hashlib.sha256(b"").hexdigest()
    return _subtree_root(hashes, 0, len(hashes)).hex()


def _check_index(index: object, size: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"index must be an int, not {type(index).__name__}")
    if not 0 <= index < size:
        raise IndexError(f"index {index} is outside a tree of {size} leaves")
    return index


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[str]:
    """Hex audit path for ``leaves[index]`` (RFC 6962 2.1.1 PATH), nearest sibling first.

    Raises IndexError when ``index`` is not in ``0..len(leaves)-1``.
    """
    hashes = _leaf_hashes(leaves)
    _check_index(index, len(hashes))
    path: list[bytes] = []
    # PATH(m, D[lo:hi]) unrolled from the root down; siblings are collected top-down,
    # then reversed so the list reads leaf-upwards as the RFC specifies.
    lo, hi, m = 0, len(hashes), index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(_subtree_root(hashes, lo + k, hi))
            hi = lo + k
        else:
            path.append(_subtree_root(hashes, lo, lo + k))
            lo, m = lo + k, m - k
    return [h.hex() for h in reversed(path)]


def _parse_digest(value: object) -> bytes | None:
    if isinstance(value, str) and _HEX_DIGEST.fullmatch(value):
        return bytes.fromhex(value)
    return None


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[str], root: str) -> bool:
    """True iff ``proof`` shows ``leaf`` at ``index`` in a tree of ``size`` with ``root``.

    The verification algorithm of RFC 9162 section 2.1.3.2. Malformed input of any kind
    (wrong types, bad hex, out-of-range index, a proof of the wrong length) gives False,
    never an exception, so it can be fed untrusted documents directly.

    Note (inherent to RFC 6962/9162 proofs): the proof hashes do not encode the tree
    size, so the same proof can verify for another ``size`` whose path has the same
    shape. Trust ``size`` only when it is published alongside the root.
    """
    if not isinstance(leaf, (bytes, bytearray)):
        return False
    if isinstance(index, bool) or not isinstance(index, int):
        return False
    if isinstance(size, bool) or not isinstance(size, int):
        return False
    if not isinstance(proof, (list, tuple)):
        return False
    expected = _parse_digest(root)
    if expected is None:
        return False
    siblings = [_parse_digest(p) for p in proof]
    if any(s is None for s in siblings):
        return False
    if index < 0 or index >= size:                      # step 1
        return False
    fn, sn = index, size - 1                            # step 2
    r = leaf_hash(leaf)                                 # step 3
    for p in siblings:                                  # step 4
        if sn == 0:                                     # 4a: proof too long
            return False
        if fn & 1 or fn == sn:                          # 4b
            r = _node_hash(p, r)
            while not fn & 1 and fn != 0:              # 4b.ii (only when fn == sn)
                fn >>= 1
                sn >>= 1
        else:
            r = _node_hash(r, p)
        fn >>= 1                                        # 4c
        sn >>= 1
    return sn == 0 and r == expected                    # step 5


# ---------------------------------------------------------------- holder documents

def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def proof_document(lines: Sequence[dict], index: int, *, statement: str) -> dict:
    """A self-contained, JSON-able record proving ``lines[index]`` is in the statement.

    It carries the holder's own line (not a hash of it) so the holder can read what they
    are being paid and the check recomputes the leaf from it. An index outside the
    statement is a user error (AttribError); a non-canonical line raises TypeError.
    """
    leaves = [leaf_bytes(line) for line in lines]
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"index must be an int, not {type(index).__name__}")
    if not leaves:
        raise AttribError("the statement has no lines, so there is nothing to prove",
                          file=statement, field="index",
                          fix="generate the statement with at least one payout line")
    if not 0 <= index < len(leaves):
        raise AttribError(f"line index {index} is not in a statement of {len(leaves)} lines",
                          file=statement, field="index",
                          fix=f"use an index from 0 to {len(leaves) - 1}")
    return {
        "format": PROOF_FORMAT,
        "statement": statement,
        "index": index,
        "size": len(leaves),
        "line": dict(lines[index]),
        "proof": inclusion_proof(leaves, index),
        "root": merkle_root(leaves),
    }


def check_proof_document(doc: dict, *, expected_root: str | None = None,
                         expected_size: int | None = None) -> tuple[bool, str]:
    """Check a line-proof document; returns (ok, one-line reason) and never raises.

    On its own this proves the line is consistent with the root *written in the
    document*; the holder must still compare that root (and size) with the ones the
    statement published. Pass ``expected_root`` / ``expected_size`` to do that here.
    """
    if not isinstance(doc, dict):
        return False, f"not a proof document: expected a JSON object, got {type(doc).__name__}"
    if doc.get("format") != PROOF_FORMAT:
        return False, _one_line(f"unknown format {doc.get('format')!r}; expected {PROOF_FORMAT!r}")
    missing = [k for k in ("statement", "index", "size", "line", "proof", "root") if k not in doc]
    if missing:
        return False, f"missing field(s): {', '.join(missing)}"
    statement, index, size = doc["statement"], doc["index"], doc["size"]
    line, proof, root = doc["line"], doc["proof"], doc["root"]
    if not isinstance(statement, str):
        return False, "field 'statement' must be a string"
    for name, value in (("index", index), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int):
            return False, f"field {name!r} must be an integer"
    if not 0 <= index < size:
        return False, f"index {index} is outside a statement of {size} lines"
    if not isinstance(proof, list) or not all(_parse_digest(p) is not None for p in proof):
        return False, "field 'proof' must be a list of 64-digit hex SHA-256 hashes"
    if _parse_digest(root) is None:
        return False, "field 'root' must be a 64-digit hex SHA-256 hash"
    try:
        leaf = leaf_bytes(line)
    except (TypeError, ValueError) as exc:
        return False, _one_line(f"field 'line' is not a valid statement line: {exc}")
    if not verify_inclusion(leaf, index, size, proof, root):
        return False, ("proof does not match the root: the line, index, size, proof or root "
                       "was altered")
    if expected_size is not None and size != expected_size:
        return False, f"size {size} differs from the published size {expected_size}"
    if expected_root is not None:
        if not isinstance(expected_root, str) or root.lower() != expected_root.lower():
            return False, _one_line(f"root {root} differs from the published root {expected_root}")
        return True, _one_line(f"line {index} of {size} in statement {statement!r} is included "
                               f"under the published root {root.lower()}")
    return True, _one_line(f"line {index} of {size} in statement {statement!r} is included "
                           f"under root {root.lower()} (compare it with the published root)")


# ---------------------------------------------------------------- HMAC signing

# sign, verify_signature, key_from_env live in attribcli.keys (the ledger keys its chain with them too)
