"""The RFC 9162 Merkle tree: heads, inclusion and consistency proofs, against the RFC's own
recursive definitions (written out plainly below) and the published RFC 6962 test vectors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.audit.checkpoints import Frontier
from cpniguard.audit.integrity import join
from cpniguard.audit.verifier import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

MAX = 64


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 9162 §2.1.1 states it."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 9162 §2.1.3.1."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 9162 §2.1.4.1."""
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def data(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def tree_of(leaves: list[bytes]) -> MerkleTree:
    return MerkleTree(leaf_hash(leaf) for leaf in leaves)


# RFC 6962 / Certificate Transparency reference vectors: eight leaves and the heads of
# each prefix.
VECTOR_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
VECTOR_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_heads_match_the_published_vectors() -> None:
    tree = tree_of(VECTOR_LEAVES)
    for size, expected in enumerate(VECTOR_ROOTS, start=1):
        assert tree.root(size).hex() == expected
        assert mth(VECTOR_LEAVES[:size]).hex() == expected
    assert MerkleTree().root() == EMPTY_ROOT == mth([])


def test_heads_and_frontier_match_the_definition_for_every_size() -> None:
    leaves = data(MAX + 1)
    tree, frontier = MerkleTree(), Frontier()
    for n in range(MAX + 1):
        assert tree.root() == frontier.root() == mth(leaves[:n]), n
        for m in range(n + 1):
            assert tree.root(m) == mth(leaves[:m])
        tree.append(leaf_hash(leaves[n]))
        frontier.append(leaf_hash(leaves[n]))


def test_proofs_are_the_rfc_proofs_and_verify_for_every_size() -> None:
    leaves = data(MAX)
    tree = tree_of(leaves)
    for n in range(1, MAX + 1):
        root = mth(leaves[:n])
        for i in range(n):
            proof = tree.inclusion_proof(i, n)
            assert proof == path(i, leaves[:n])
            assert verify_inclusion(i, n, leaf_hash(leaves[i]), proof, root)
        for m in range(0, n + 1):
            proof = tree.consistency_proof(m, n)
            expected = subproof(m, leaves[:n], True) if 0 < m < n else []
            assert proof == expected, (m, n)
            assert verify_consistency(m, n, mth(leaves[:m]), root, proof), (m, n)


def _flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8 % len(changed)] ^= 1 << (bit % 8)
    return bytes(changed)


sizes = st.integers(min_value=1, max_value=MAX)


@settings(max_examples=300, deadline=None)
@given(n=sizes, index=st.integers(min_value=0), which=st.integers(min_value=0),
       bit=st.integers(min_value=0, max_value=255))
def test_an_altered_inclusion_proof_fails(n: int, index: int, which: int, bit: int) -> None:
    leaves = data(n)
    i = index % n
    tree = tree_of(leaves)
    proof, root, leaf = tree.inclusion_proof(i, n), tree.root(n), leaf_hash(leaves[i])
    assert verify_inclusion(i, n, leaf, proof, root)
    assert not verify_inclusion(i, n, _flip(leaf, bit), proof, root)
    assert not verify_inclusion(i, n, leaf, proof, _flip(root, bit))
    if proof:
        k = which % len(proof)
        assert not verify_inclusion(i, n, leaf, [*proof[:k], _flip(proof[k], bit),
                                                 *proof[k + 1:]], root)
        assert not verify_inclusion(i, n, leaf, proof[:-1], root)
        assert not verify_inclusion(i, n, leaf, [*proof, proof[0]], root)
    if n > 1:  # the same leaf does not sit at another index
        other = (i + 1 + which % (n - 1)) % n
        assert not verify_inclusion(other, n, leaf, proof, root)
    assert not verify_inclusion(n, n, leaf, proof, root)


@settings(max_examples=300, deadline=None)
@given(n=sizes, first=st.integers(min_value=1), which=st.integers(min_value=0),
       bit=st.integers(min_value=0, max_value=255))
def test_an_altered_consistency_proof_fails(n: int, first: int, which: int, bit: int) -> None:
    m = first % n + 1 if n > 1 else 1
    leaves = data(n)
    tree = tree_of(leaves)
    old, new = tree.root(m), tree.root(n)
    proof = tree.consistency_proof(m, n)
    assert verify_consistency(m, n, old, new, proof)
    assert not verify_consistency(m, n, _flip(old, bit), new, proof)
    assert not verify_consistency(m, n, old, _flip(new, bit), proof)
    if proof:
        k = which % len(proof)
        assert not verify_consistency(m, n, old, new,
                                      [*proof[:k], _flip(proof[k], bit), *proof[k + 1:]])
        assert not verify_consistency(m, n, old, new, proof[:-1])
    # A history that differs in any one leaf is not consistent with the new head.
    changed = list(leaves)
    changed[which % m] = b"rewritten"
    assert not verify_consistency(m, n, mth(changed[:m]), new, proof)
    assert not verify_consistency(n, m, new, old, proof) or m == n


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=5),
       aligned=st.booleans())
def test_trees_built_in_pieces_equal_one_built_leaf_by_leaf(sizes: list[int],
                                                           aligned: bool) -> None:
    if aligned:  # pieces of one power-of-two size, as the parallel verifier cuts them
        sizes = [16] * (len(sizes) - 1) + [sizes[-1]]
    leaves = data(sum(sizes))
    whole, joined, at = tree_of(leaves), MerkleTree(), 0
    for size in sizes:
        piece = tree_of(leaves[at:at + size])
        join(joined, piece.size, [bytes(level) for level in piece.levels])
        at += size
    assert joined.size == whole.size
    assert [bytes(level) for level in joined.levels] == [bytes(level) for level in whole.levels]


def test_bad_sizes_are_refused() -> None:
    tree = tree_of(data(5))
    with pytest.raises(ValueError, match="out of range"):
        tree.inclusion_proof(5, 5)
    with pytest.raises(ValueError, match="out of range"):
        tree.consistency_proof(3, 6)
    with pytest.raises(ValueError, match="does not match"):
        Frontier(3, [EMPTY_ROOT])
    assert not verify_consistency(4, 3, tree.root(4), tree.root(3), [])
    assert not verify_consistency(2, 5, tree.root(2), tree.root(5), [])
