"""Merkle proofs (RFC 6962 / RFC 9162) and HMAC signing for payout statements.

The module is checked against a deliberately naive recursive implementation written
here straight from RFC 6962 section 2.1 (slices, no shortcuts), against the published
Certificate Transparency test vectors, and by tampering with every part of a proof.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribcli import keys
from attribcli.errors import AttribError
from attribcli.reports.merkle import (
    PROOF_FORMAT,
    check_proof_document,
    inclusion_proof,
    key_from_env,
    leaf_bytes,
    merkle_root,
    proof_document,
    sign,
    verify_inclusion,
    verify_signature,
)

# ---------------------------------------------------------------- naive reference (RFC 6962 2.1)

def _sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def _k(n: int) -> int:
    """Largest power of two strictly smaller than n, by counting (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(d: list[bytes]) -> bytes:
    if len(d) == 0:
        return _sha(b"")
    if len(d) == 1:
        return _sha(b"\x00" + d[0])
    k = _k(len(d))
    return _sha(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:]))


def naive_path(m: int, d: list[bytes]) -> list[tuple[str, bytes]]:
    """RFC 6962 2.1.1 PATH(m, D[n]), each sibling tagged with the side it sits on."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return naive_path(m, d[:k]) + [("R", naive_mth(d[k:]))]
    return naive_path(m - k, d[k:]) + [("L", naive_mth(d[:k]))]


def naive_sides(m: int, n: int) -> tuple[str, ...]:
    """The left/right shape of PATH(m, D[n]), which depends only on m and n."""
    if n == 1:
        return ()
    k = _k(n)
    if m < k:
        return naive_sides(m, k) + ("R",)
    return naive_sides(m - k, n - k) + ("L",)


def naive_root_from_path(leaf: bytes, path: list[tuple[str, bytes]]) -> bytes:
    r = _sha(b"\x00" + leaf)
    for side, h in path:
        r = _sha(b"\x01" + h + r) if side == "L" else _sha(b"\x01" + r + h)
    return r


def _flip(hex_digest: str, bit: int = 0) -> str:
    raw = bytearray(bytes.fromhex(hex_digest))
    raw[bit // 8 % 32] ^= 1 << (bit % 8)
    return raw.hex()


leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=70)
# Tampering tests need distinct leaves: with duplicates, "leaf X at index j" can be true.
distinct_leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=70, unique=True)


# ---------------------------------------------------------------- known values

# Certificate Transparency reference vectors (certificate-transparency / trillian
# testonly): the leaf inputs and MTH of the first n of them, n = 0..8.
CT_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
             b"\x50\x51\x52\x53\x54\x55\x56\x57",
             bytes(range(0x60, 0x70))]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# Inclusion proofs in the 8-leaf tree, from the same reference suite.
CT_PROOFS_8 = {
    0: ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    5: ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}


def test_empty_tree_root_is_sha256_of_nothing():
    assert merkle_root([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()


def test_one_leaf_tree_is_the_prefixed_leaf_hash():
    leaf = b'{"amount_minor":100,"holder":"alice"}'
    assert merkle_root([leaf]) == hashlib.sha256(b"\x00" + leaf).hexdigest()
    assert inclusion_proof([leaf], 0) == []
    assert verify_inclusion(leaf, 0, 1, [], merkle_root([leaf]))


@pytest.mark.parametrize("n", range(len(CT_ROOTS)))
def test_certificate_transparency_root_vectors(n):
    assert merkle_root(CT_LEAVES[:n]) == CT_ROOTS[n]


@pytest.mark.parametrize("index", sorted(CT_PROOFS_8))
def test_certificate_transparency_inclusion_vectors(index):
    assert inclusion_proof(CT_LEAVES, index) == CT_PROOFS_8[index]
    assert verify_inclusion(CT_LEAVES[index], index, 8, CT_PROOFS_8[index], CT_ROOTS[8])


def test_rfc6962_example_tree_of_seven():
    """RFC 6962 2.1.3: PATH(0)=[b,h,l], PATH(3)=[c,g,l], PATH(4)=[f,j,k], PATH(6)=[i,k]."""
    d = [bytes([i]) * 3 for i in range(7)]
    a, b, c, dd, e, f, j = (_sha(b"\x00" + x) for x in d)
    g = _sha(b"\x01" + a + b)
    h = _sha(b"\x01" + c + dd)
    i = _sha(b"\x01" + e + f)
    k = _sha(b"\x01" + g + h)
    l_ = _sha(b"\x01" + i + j)
    assert merkle_root(d) == _sha(b"\x01" + k + l_).hex()
    assert inclusion_proof(d, 0) == [x.hex() for x in (b, h, l_)]
    assert inclusion_proof(d, 3) == [x.hex() for x in (c, g, l_)]
    assert inclusion_proof(d, 4) == [x.hex() for x in (f, j, k)]
    assert inclusion_proof(d, 6) == [x.hex() for x in (i, k)]


# ---------------------------------------------------------------- against the naive reference

@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=12), max_size=70))
def test_root_matches_naive_implementation(leaves):
    assert merkle_root(leaves) == naive_mth(leaves).hex()


@settings(max_examples=60, deadline=None)
@given(leaf_lists)
def test_every_proof_matches_naive_path_and_verifies(leaves):
    n, root = len(leaves), merkle_root(leaves)
    for i in range(n):
        path = naive_path(i, leaves)
        assert naive_root_from_path(leaves[i], path).hex() == root  # the reference is sound
        assert [s for s, _ in path] == list(naive_sides(i, n))
        proof = inclusion_proof(leaves, i)
        assert proof == [h.hex() for _, h in path]
        assert verify_inclusion(leaves[i], i, n, proof, root)
        assert verify_inclusion(bytearray(leaves[i]), i, n, tuple(proof), root.upper())


@settings(max_examples=60, deadline=None)
@given(distinct_leaf_lists, st.data())
def test_any_tampering_fails(leaves, data):
    n, root = len(leaves), merkle_root(leaves)
    other_hash = data.draw(st.binary(min_size=32, max_size=32)).hex()
    for i in range(n):
        leaf, proof = leaves[i], inclusion_proof(leaves, i)
        # the leaf
        assert not verify_inclusion(leaf + b"\x00", i, n, proof, root)
        assert not verify_inclusion(b"\x01" + leaf, i, n, proof, root)
        # the index (a different position always has a different path shape)
        for j in {i - 1, i + 1, 0, n - 1, n, -1} - {i}:
            assert not verify_inclusion(leaf, j, n, proof, root)
        # every proof element, every bit position class
        for e in range(len(proof)):
            for bit in (0, 7, 255):
                bad = proof[:e] + [_flip(proof[e], bit)] + proof[e + 1:]
                assert not verify_inclusion(leaf, i, n, bad, root)
            assert not verify_inclusion(leaf, i, n, proof[:e] + [other_hash] + proof[e + 1:], root)
        # swapping two different siblings
        if len(proof) >= 2 and proof[0] != proof[1]:
            assert not verify_inclusion(leaf, i, n, [proof[1], proof[0]] + proof[2:], root)
        # the root
        assert not verify_inclusion(leaf, i, n, proof, _flip(root))
        assert not verify_inclusion(leaf, i, n, proof, other_hash)
        # truncated / extended proofs
        for cut in range(len(proof)):
            assert not verify_inclusion(leaf, i, n, proof[:cut], root)
        assert not verify_inclusion(leaf, i, n, proof + [other_hash], root)
        assert not verify_inclusion(leaf, i, n, proof + [root], root)
        assert not verify_inclusion(leaf, i, n, [other_hash] + proof, root)


@settings(max_examples=60, deadline=None)
@given(leaf_lists)
def test_changed_size_fails_unless_path_shape_is_identical(leaves):
    """The hashes of an RFC 6962 proof do not encode the tree size: a proof verifies for
    another size exactly when that size gives the same left/right path shape (e.g. leaf 0
    of 3 vs of 4). Everywhere else a changed size must fail."""
    n, root = len(leaves), merkle_root(leaves)
    for i in range(n):
        proof = inclusion_proof(leaves, i)
        for m in {n - 1, n + 1, n + 2, 2 * n, n // 2, i, i + 1, 0, -1} - {n}:
            expected = 0 <= i < m and naive_sides(i, m) == naive_sides(i, n)
            assert verify_inclusion(leaves[i], i, m, proof, root) is expected


def test_changed_size_really_fails_when_shape_differs():
    leaves = [bytes([i]) for i in range(6)]
    proof = inclusion_proof(leaves, 5)
    root = merkle_root(leaves)
    assert verify_inclusion(leaves[5], 5, 6, proof, root)
    for m in (7, 8, 9, 12):
        assert naive_sides(5, m) != naive_sides(5, 6)
        assert not verify_inclusion(leaves[5], 5, m, proof, root)


def test_proofs_are_logarithmic():
    leaves = [str(i).encode() for i in range(1000)]
    assert max(len(inclusion_proof(leaves, i)) for i in (0, 511, 512, 999)) <= 10


# ---------------------------------------------------------------- malformed input

GOOD_LEAVES = [b"a", b"b", b"c", b"d", b"e"]
GOOD_PROOF = inclusion_proof(GOOD_LEAVES, 2)
GOOD_ROOT = merkle_root(GOOD_LEAVES)


@pytest.mark.parametrize("args", [
    ("c", 2, 5, GOOD_PROOF, GOOD_ROOT),                     # leaf as str
    (None, 2, 5, GOOD_PROOF, GOOD_ROOT),
    (b"c", True, 5, GOOD_PROOF, GOOD_ROOT),                 # bool index
    (b"c", 2.0, 5, GOOD_PROOF, GOOD_ROOT),
    (b"c", "2", 5, GOOD_PROOF, GOOD_ROOT),
    (b"c", -3, 5, GOOD_PROOF, GOOD_ROOT),
    (b"c", 5, 5, GOOD_PROOF, GOOD_ROOT),
    (b"c", 2, 0, GOOD_PROOF, GOOD_ROOT),
    (b"c", 2, -5, GOOD_PROOF, GOOD_ROOT),
    (b"c", 2, "5", GOOD_PROOF, GOOD_ROOT),
    (b"c", 2, 5.0, GOOD_PROOF, GOOD_ROOT),
    (b"c", 2, 5, None, GOOD_ROOT),
    (b"c", 2, 5, "".join(GOOD_PROOF), GOOD_ROOT),           # a str is not a list
    (b"c", 2, 5, {p: 1 for p in GOOD_PROOF}, GOOD_ROOT),
    (b"c", 2, 5, GOOD_PROOF[:-1] + [GOOD_PROOF[-1][:-1]], GOOD_ROOT),
    (b"c", 2, 5, GOOD_PROOF[:-1] + ["zz" * 32], GOOD_ROOT),
    (b"c", 2, 5, GOOD_PROOF[:-1] + [bytes.fromhex(GOOD_PROOF[-1])], GOOD_ROOT),
    (b"c", 2, 5, GOOD_PROOF[:-1] + [None], GOOD_ROOT),
    (b"c", 2, 5, GOOD_PROOF, None),
    (b"c", 2, 5, GOOD_PROOF, bytes.fromhex(GOOD_ROOT)),
    (b"c", 2, 5, GOOD_PROOF, " " + GOOD_ROOT),
    (b"c", 2, 5, GOOD_PROOF, GOOD_ROOT + "\n"),
    (b"c", 2, 5, GOOD_PROOF, "0x" + GOOD_ROOT[2:]),
    (b"c", 2, 5, GOOD_PROOF, GOOD_ROOT[:2] + " " + GOOD_ROOT[2:]),
    (b"c", 2, 5, GOOD_PROOF, "٣" * 64),                     # non-ASCII digits
    (b"c", 2, 2**70, GOOD_PROOF, GOOD_ROOT),
])
def test_verify_inclusion_returns_false_on_malformed_input(args):
    assert verify_inclusion(*args) is False


def test_malformed_baseline_is_valid():
    assert verify_inclusion(b"c", 2, 5, GOOD_PROOF, GOOD_ROOT) is True


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(), st.text(), st.none(), st.integers()),
       st.one_of(st.integers(), st.booleans(), st.floats(), st.none(), st.text()),
       st.one_of(st.integers(), st.booleans(), st.floats(), st.none(), st.text()),
       st.one_of(st.lists(st.one_of(st.text(), st.binary(), st.integers())), st.text(), st.none()),
       st.one_of(st.text(), st.binary(), st.none(), st.integers()))
def test_verify_inclusion_never_raises(leaf, index, size, proof, root):
    assert isinstance(verify_inclusion(leaf, index, size, proof, root), bool)


def test_inclusion_proof_rejects_bad_index_and_leaves():
    with pytest.raises(IndexError):
        inclusion_proof(GOOD_LEAVES, 5)
    with pytest.raises(IndexError):
        inclusion_proof(GOOD_LEAVES, -1)
    with pytest.raises(IndexError):
        inclusion_proof([], 0)
    with pytest.raises(TypeError):
        inclusion_proof(GOOD_LEAVES, True)
    with pytest.raises(TypeError):
        merkle_root(["a", "b"])
    with pytest.raises(TypeError):
        merkle_root(b"ab")


# ---------------------------------------------------------------- canonical leaves

def test_leaf_bytes_exact_form():
    line = {"holder": "alice", "amount_minor": 1234, "currency": "EUR", "withheld": False,
            "note": None}
    assert leaf_bytes(line) == (b'{"amount_minor":1234,"currency":"EUR","holder":"alice",'
                                b'"note":null,"withheld":false}')


def test_leaf_bytes_key_order_irrelevant():
    a = {"holder": "bob", "amount_minor": 5, "currency": "USD"}
    b = {"currency": "USD", "amount_minor": 5, "holder": "bob"}
    assert leaf_bytes(a) == leaf_bytes(b)


def test_leaf_bytes_keeps_non_ascii_as_utf8():
    out = leaf_bytes({"holder": "Zoë Ångström 山田"})
    assert "Zoë Ångström 山田".encode() in out
    assert b"\\u" not in out


@pytest.mark.parametrize("value", [1.0, 0.1, float("nan"), float("inf"), -0.0])
def test_leaf_bytes_rejects_floats(value):
    with pytest.raises(TypeError, match="float"):
        leaf_bytes({"holder": "alice", "amount": value})


@pytest.mark.parametrize("line", [
    {"amount": [1, 2]},
    {"amount": {"minor": 1}},
    {"amount": b"12"},
    {1: "integer key"},
    {("a",): "tuple key"},
    ["not", "a", "dict"],
    None,
])
def test_leaf_bytes_rejects_non_flat_or_non_json_safe_lines(line):
    with pytest.raises(TypeError):
        leaf_bytes(line)


def test_leaf_bytes_rejects_decimal():
    from decimal import Decimal
    with pytest.raises(TypeError):
        leaf_bytes({"amount": Decimal("1.10")})


line_dicts = st.dictionaries(
    st.text(max_size=8),
    st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.none()),
    max_size=6,
)


@settings(max_examples=100, deadline=None)
@given(line_dicts, st.randoms(use_true_random=False))
def test_leaf_bytes_is_canonical_and_round_trips(line, rnd):
    items = list(line.items())
    rnd.shuffle(items)
    assert leaf_bytes(dict(items)) == leaf_bytes(line)
    assert json.loads(leaf_bytes(line).decode("utf-8")) == line
    assert leaf_bytes(json.loads(json.dumps(line))) == leaf_bytes(line)


# ---------------------------------------------------------------- proof documents

STATEMENT = [
    {"holder": "alice", "amount_minor": 123456, "currency": "EUR"},
    {"holder": "Zoë", "amount_minor": 789, "currency": "EUR"},
    {"holder": "carol", "amount_minor": 1, "currency": "EUR", "note": None},
    {"holder": "dave", "amount_minor": 0, "currency": "EUR", "withheld": True},
    {"holder": "erin", "amount_minor": 5000, "currency": "EUR"},
]


def _roundtrip(doc):
    return json.loads(json.dumps(doc))


def test_proof_document_layout_and_json_round_trip():
    doc = proof_document(STATEMENT, 1, statement="2024-Q1 royalties")
    assert set(doc) == {"format", "statement", "index", "size", "line", "proof", "root"}
    assert doc["format"] == PROOF_FORMAT == "attrib-line-proof-v1"
    assert doc["statement"] == "2024-Q1 royalties"
    assert (doc["index"], doc["size"]) == (1, 5)
    assert doc["line"] == STATEMENT[1]
    assert doc["root"] == merkle_root([leaf_bytes(x) for x in STATEMENT])
    back = _roundtrip(doc)
    assert back == doc
    ok, reason = check_proof_document(back)
    assert ok, reason
    assert "\n" not in reason and "line 1 of 5" in reason and doc["root"] in reason


@pytest.mark.parametrize("index", range(len(STATEMENT)))
def test_every_line_document_checks_against_the_published_root(index):
    root = merkle_root([leaf_bytes(x) for x in STATEMENT])
    doc = _roundtrip(proof_document(STATEMENT, index, statement="s"))
    assert check_proof_document(doc, expected_root=root, expected_size=len(STATEMENT))[0]


def test_proof_document_copies_the_line():
    lines = copy.deepcopy(STATEMENT)
    doc = proof_document(lines, 0, statement="s")
    lines[0]["amount_minor"] += 1
    assert doc["line"]["amount_minor"] == 123456
    assert check_proof_document(doc)[0]


def _tampered(mutate):
    doc = _roundtrip(proof_document(STATEMENT, 0, statement="s"))
    mutate(doc)
    return check_proof_document(doc)


@pytest.mark.parametrize("mutate", [
    lambda d: d["line"].__setitem__("amount_minor", d["line"]["amount_minor"] + 1),  # one cent
    lambda d: d["line"].__setitem__("amount_minor", str(d["line"]["amount_minor"])),
    lambda d: d["line"].__setitem__("holder", "mallory"),
    lambda d: d["line"].__setitem__("currency", "USD"),
    lambda d: d["line"].__setitem__("bonus", 1),
    lambda d: d["line"].pop("currency"),
    lambda d: d.__setitem__("line", STATEMENT[1]),
    lambda d: d.__setitem__("index", 1),
    lambda d: d.__setitem__("size", 9),
    lambda d: d.__setitem__("size", 4),
    lambda d: d.__setitem__("size", 3),
    lambda d: d["proof"].__setitem__(0, _flip(d["proof"][0])),
    lambda d: d["proof"].pop(),
    lambda d: d["proof"].append(d["root"]),
    lambda d: d.__setitem__("root", _flip(d["root"])),
])
def test_proof_document_detects_tampering(mutate):
    ok, reason = _tampered(mutate)
    assert not ok
    assert reason and "\n" not in reason


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.__setitem__("format", "attrib-line-proof-v0"), "format"),
    (lambda d: d.pop("format"), "format"),
    (lambda d: d.pop("proof"), "proof"),
    (lambda d: d.pop("root"), "root"),
    (lambda d: d.__setitem__("index", "0"), "index"),
    (lambda d: d.__setitem__("index", True), "index"),
    (lambda d: d.__setitem__("index", -1), "index"),
    (lambda d: d.__setitem__("size", None), "size"),
    (lambda d: d.__setitem__("statement", 7), "statement"),
    (lambda d: d.__setitem__("proof", "abc"), "proof"),
    (lambda d: d.__setitem__("proof", [1, 2]), "proof"),
    (lambda d: d.__setitem__("root", "nope"), "root"),
    (lambda d: d["line"].__setitem__("amount_minor", 1234.56), "float"),
    (lambda d: d["line"].__setitem__("amount_minor", [1]), "line"),
    (lambda d: d.__setitem__("line", "alice 1234.56"), "line"),
    (lambda d: d["line"].__setitem__("holder", "\ud800"), "line"),  # lone surrogate
])
def test_proof_document_malformed_fields_give_one_line_reasons(mutate, words):
    ok, reason = _tampered(mutate)
    assert not ok
    assert words in reason
    assert "\n" not in reason


def test_check_proof_document_compares_with_published_values():
    doc = proof_document(STATEMENT, 2, statement="s")
    other_root = merkle_root([leaf_bytes(x) for x in STATEMENT[:4]])
    ok, reason = check_proof_document(doc, expected_root=other_root)
    assert not ok and "published root" in reason
    ok, reason = check_proof_document(doc, expected_size=6)
    assert not ok and "published size" in reason
    assert check_proof_document(doc, expected_root=doc["root"].upper())[0]


def test_size_is_only_bound_by_the_published_size():
    """Leaf 0 has the same path shape in any tree of 5..8 leaves, so a document whose
    size was changed from 5 to 8 is still internally consistent; comparing with the
    published size catches it."""
    doc = proof_document(STATEMENT, 0, statement="s")
    doc["size"] = 8
    assert check_proof_document(doc)[0]
    ok, reason = check_proof_document(doc, expected_size=len(STATEMENT))
    assert not ok and "published size" in reason


def test_check_proof_document_reason_stays_on_one_line():
    doc = proof_document(STATEMENT, 0, statement="evil\nname\r\n")
    ok, reason = check_proof_document(doc)
    assert ok and "\n" not in reason and "\r" not in reason
    doc["format"] = "x\ny"
    ok, reason = check_proof_document(doc)
    assert not ok and "\n" not in reason


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["statement", "index", "size", "line", "proof", "root", "format"]),
       json_values)
def test_check_proof_document_never_raises(field, value):
    doc = proof_document(STATEMENT, 3, statement="s")
    doc[field] = value
    ok, reason = check_proof_document(doc)
    assert isinstance(ok, bool) and isinstance(reason, str) and "\n" not in reason


@pytest.mark.parametrize("doc", [None, [], "{}", 3, {}])
def test_check_proof_document_non_documents(doc):
    ok, reason = check_proof_document(doc)
    assert not ok and reason


def test_proof_document_bad_index_is_a_user_error():
    with pytest.raises(AttribError) as exc:
        proof_document(STATEMENT, 5, statement="q1.json")
    assert exc.value.exit_code == 2
    assert "q1.json" in str(exc.value) and "0 to 4" in str(exc.value)
    with pytest.raises(AttribError):
        proof_document(STATEMENT, -1, statement="q1.json")
    with pytest.raises(AttribError):
        proof_document([], 0, statement="q1.json")


def test_proof_document_refuses_float_lines():
    lines = copy.deepcopy(STATEMENT)
    lines[4]["amount_minor"] = 50.0
    with pytest.raises(TypeError):
        proof_document(lines, 0, statement="s")


# ---------------------------------------------------------------- HMAC signing

def test_sign_matches_rfc4231_test_case_2():
    assert sign(b"what do ya want for nothing?", b"Jefe") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_sign_and_verify():
    root = merkle_root([leaf_bytes(x) for x in STATEMENT]).encode()
    sig = sign(root, b"k3y")
    assert verify_signature(root, b"k3y", sig)
    assert verify_signature(root, b"k3y", sig.upper())
    assert not verify_signature(root, b"k3z", sig)
    assert not verify_signature(root + b"0", b"k3y", sig)
    assert not verify_signature(root, b"k3y", _flip(sig))
    assert not verify_signature(root, b"k3y", sig[:-1])
    assert not verify_signature(root, b"k3y", "")


@pytest.mark.parametrize("data, key, sig", [
    (b"x", b"k", None),
    (b"x", b"k", b"00" * 32),
    (b"x", b"k", "é" * 64),
    (b"x", b"", "00" * 32),
    ("x", b"k", "00" * 32),
    (b"x", "k", "00" * 32),
])
def test_verify_signature_malformed_is_false(data, key, sig):
    assert verify_signature(data, key, sig) is False


def test_verify_signature_uses_constant_time_compare(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys.hmac, "compare_digest", spy)
    assert verify_signature(b"x", b"k", sign(b"x", b"k"))
    assert calls


def test_sign_refuses_empty_key_and_non_bytes():
    with pytest.raises(ValueError):
        sign(b"x", b"")
    with pytest.raises(TypeError):
        sign("x", b"k")


def test_key_from_env_unset_is_none(monkeypatch):
    monkeypatch.delenv("ATTRIB_SIGNING_KEY", raising=False)
    assert key_from_env() is None


def test_key_from_env_returns_bytes(monkeypatch):
    monkeypatch.setenv("ATTRIB_SIGNING_KEY", "s3cret-Zoë")
    assert key_from_env() == "s3cret-Zoë".encode()
    monkeypatch.setenv("OTHER_KEY", "abc")
    assert key_from_env("OTHER_KEY") == b"abc"


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_key_from_env_empty_is_a_user_error(monkeypatch, value):
    monkeypatch.setenv("ATTRIB_SIGNING_KEY", value)
    with pytest.raises(AttribError) as exc:
        key_from_env()
    msg = str(exc.value)
    assert exc.value.exit_code == 2
    assert "ATTRIB_SIGNING_KEY" in msg and "fix:" in msg and "\n" not in msg


def test_key_from_env_custom_variable_named_in_error(monkeypatch):
    monkeypatch.setenv("MY_KEY", "")
    with pytest.raises(AttribError, match="MY_KEY"):
        key_from_env("MY_KEY")
