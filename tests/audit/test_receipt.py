"""Receipts (C2SP tlog-proof): build, parse, verify offline, tamper, size at 1M entries."""

from __future__ import annotations

import contextlib
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mondaytest.audit import checkpoint as c
from mondaytest.audit import merkle as m
from mondaytest.audit import note as n
from mondaytest.audit import receipt as r
from mondaytest.errors import CheckFailed, InputError, MondayError

ORIGIN = "monday.example/audit/demo"
LOG = n.Ed25519Signer.from_seed(ORIGIN, hashlib.sha256(b"monday example key - do not use").digest())
ENTRIES = [
    json.dumps(
        {"i": i, "type": "decision", "v": "monday.audit/v1"}, sort_keys=True, separators=(",", ":")
    ).encode()
    for i in range(3)
]
WORKED_ROOT = "mlDIn62y2F9NCOwZabRt3+xVyF1o4Ujicxzg45FIhN0="


def _log(entries: list[bytes], *witnesses: n.NoteSigner) -> tuple[m.MemoryHashes, bytes]:
    tree = m.MemoryHashes.from_entries(entries)
    cp = c.Checkpoint(ORIGIN, tree.size, tree.root())
    return tree, c.sign_checkpoint(cp, [LOG, *witnesses])


def _receipt(index: int, entries: list[bytes] = ENTRIES, **kw: bytes) -> bytes:
    tree, note = _log(entries)
    proof = m.inclusion_proof(index, tree.size, tree)
    return r.build_receipt(index, proof, note, leaf=entries[index], **kw)


def test_worked_example_receipt() -> None:
    data = _receipt(1)
    text = data.decode()
    assert text.startswith("c2sp.org/tlog-proof@v1\nindex 1\n0OCwuDrpUioNOh762P3A4KEQG/9kR")
    assert f"\n\n{ORIGIN}\n3\n{WORKED_ROOT}\n\n— {ORIGIN} " in text
    v = r.verify_receipt(data, [LOG.verifier()], leaf=ENTRIES[1], origin=ORIGIN)
    assert (v.index, v.checkpoint.size, v.extra) == (1, 3, None)
    assert v.leaf_hash == m.leaf_hash(ENTRIES[1])
    parsed = r.parse_receipt(data)
    assert parsed.to_bytes() == data
    assert len(parsed.proof) == 2


def test_extra_and_leaf_hash_and_single_entry() -> None:
    data = _receipt(2, extra=b"opaque \x00 context")
    parsed = r.parse_receipt(data)
    assert parsed.extra == b"opaque \x00 context"
    assert b"\nextra " in data
    r.verify_receipt(parsed, [LOG.verifier()], leaf_hash=m.leaf_hash(ENTRIES[2]))
    single = _receipt(0, [b"only"])
    assert r.parse_receipt(single).proof == ()
    assert b"index 0\n\n" in single
    r.verify_receipt(single, [LOG.verifier()], leaf=b"only")


def test_an_entry_that_is_not_the_logged_one_is_named_as_such() -> None:
    data = _receipt(1)
    for changed in (ENTRIES[1] + b"\n", ENTRIES[1].replace(b'"i":1', b'"i":7')):
        with pytest.raises(m.ProofError, match="entry 1 is not the one the log signed") as caught:
            r.verify_receipt(data, [LOG.verifier()], leaf=changed, origin=ORIGIN)
        assert caught.value.hint is not None
        assert "no added newline" in caught.value.hint


def test_build_refuses_wrong_inputs() -> None:
    tree, note = _log(ENTRIES)
    proof = m.inclusion_proof(1, 3, tree)
    with pytest.raises(m.ProofError):
        r.build_receipt(1, proof, note, leaf=b"another entry")
    with pytest.raises(r.ReceiptError, match="not covered"):
        r.build_receipt(3, proof, note)
    with pytest.raises(r.ReceiptError, match="uint64"):
        r.build_receipt(-1, proof, note)
    with pytest.raises(r.ReceiptError, match="32 bytes"):
        r.build_receipt(1, [b"x"], note)
    with pytest.raises(r.ReceiptError, match="checkpoint"):
        r.build_receipt(1, proof, b"not a note")
    with pytest.raises(InputError, match="not both"):
        r.build_receipt(1, proof, note, leaf=ENTRIES[1], leaf_hash=m.leaf_hash(ENTRIES[1]))
    with pytest.raises(InputError, match="32 bytes"):
        r.build_receipt(1, proof, note, leaf_hash=b"short")


def test_verify_failures_are_check_failures() -> None:
    data = _receipt(1)
    with pytest.raises(m.ProofError):
        r.verify_receipt(data, [LOG.verifier()], leaf=ENTRIES[0])  # another entry
    with pytest.raises(n.SignatureError):
        r.verify_receipt(data, [n.Ed25519Signer.generate(ORIGIN).verifier()], leaf=ENTRIES[1])
    with pytest.raises(c.OriginMismatch):
        r.verify_receipt(data, [LOG.verifier()], leaf=ENTRIES[1], origin="other.example/log")
    with pytest.raises(InputError, match="needs the logged entry"):
        r.verify_receipt(data, [LOG.verifier()])
    # a changed index, a changed proof hash, a dropped proof line
    text = data.decode()
    with pytest.raises(m.ProofError):
        r.verify_receipt(
            text.replace("index 1", "index 0").encode(), [LOG.verifier()], leaf=ENTRIES[1]
        )
    lines = text.split("\n")
    swapped = "\n".join([lines[0], lines[1], lines[3], lines[2], *lines[4:]]).encode()
    with pytest.raises(m.ProofError):
        r.verify_receipt(swapped, [LOG.verifier()], leaf=ENTRIES[1])
    dropped = "\n".join([lines[0], lines[1], lines[2], *lines[4:]]).encode()
    with pytest.raises(m.ProofError):
        r.verify_receipt(dropped, [LOG.verifier()], leaf=ENTRIES[1])
    # the checkpoint's size changed: its signature breaks
    resized = text.replace(f"{ORIGIN}\n3\n", f"{ORIGIN}\n4\n").encode()
    with pytest.raises(n.SignatureError):
        r.verify_receipt(resized, [LOG.verifier()], leaf=ENTRIES[1])
    assert issubclass(m.ProofError, CheckFailed)


def test_every_single_bit_flip_is_caught() -> None:
    data = _receipt(1)
    verifiers = [LOG.verifier()]
    for pos in range(len(data)):
        for bit in range(8):
            bad = bytearray(data)
            bad[pos] ^= 1 << bit
            try:
                r.verify_receipt(bytes(bad), verifiers, leaf=ENTRIES[1])
            except MondayError:
                continue
            # Only a change to the (unauthenticated) key-name-free parts could survive:
            # none exist in this receipt, so nothing may verify.
            pytest.fail(f"bit {bit} of byte {pos} flipped and the receipt still verified")


def test_witness_cosignatures() -> None:
    wit = n.CosignatureSigner(
        "witness.example/w1", n.Ed25519Signer.generate("w")._key, clock=lambda: 1_760_000_000
    )
    tree, note = _log(ENTRIES, wit)
    data = r.build_receipt(0, m.inclusion_proof(0, 3, tree), note, leaf=ENTRIES[0])
    v = r.verify_receipt(
        data, [LOG.verifier(), wit.verifier()], leaf=ENTRIES[0], min_cosignatures=1
    )
    assert [s.timestamp for s in v.checkpoint.cosignatures] == [1_760_000_000]
    with pytest.raises(r.WitnessQuorumError, match="1 required"):
        r.verify_receipt(data, [LOG.verifier()], leaf=ENTRIES[0], min_cosignatures=1)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda t: t.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"), "first line"),
        (lambda t: t.replace("index 1", "index 01"), "leading zeros"),
        (lambda t: t.replace("index 1", "index -1"), "decimal"),
        (lambda t: t.replace("index 1", "index  1"), "decimal"),
        (lambda t: t.replace("index 1", "index 99999999999999999999999"), "64 bits"),
        (lambda t: t.replace("index 1", "idx 1"), "index"),
        (lambda t: t.replace("index 1\n", "extra !!\nindex 1\n"), "base64"),
        (lambda t: t.replace("index 1\n", "index 1\nAAAA\n"), "32-byte"),
        (lambda t: t.replace("index 1\n", "index 1\n" + "é" + "\n"), "ASCII"),
        (lambda t: t.split("\n\n")[0], "ends before"),
        (lambda t: t.split("\n\n")[0] + "\n\n", "checkpoint"),
        (lambda t: t.replace(f"{ORIGIN}\n3\n", f"{ORIGIN}\nthree\n"), "checkpoint"),
        (lambda t: t.replace("\n\n— ", "\n— "), "checkpoint"),
        (lambda t: t.replace("index 1\n", "index 1\n" + ("A" * 43 + "=\n") * 65), "more than"),
        (lambda t: "", "ends before"),
    ],
)
def test_malformed_receipts(mutate: object, match: str) -> None:
    data = _receipt(1).decode()
    assert callable(mutate)
    bad = mutate(data).encode()
    with pytest.raises(r.ReceiptError, match=match) as err:
        r.parse_receipt(bad)
    assert err.value.exit_code == 2
    with pytest.raises(MondayError):
        r.verify_receipt(bad, [LOG.verifier()], leaf=ENTRIES[1])


def test_parse_rejects_non_bytes_and_huge() -> None:
    with pytest.raises(r.ReceiptError):
        r.parse_receipt("text")  # type: ignore[arg-type]
    with pytest.raises(r.ReceiptError, match="larger"):
        r.parse_receipt(b"x" * (r.MAX_RECEIPT_BYTES + 1))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_parse_receipt(data: bytes) -> None:
    with contextlib.suppress(MondayError):
        r.parse_receipt(b"c2sp.org/tlog-proof@v1\n" + data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_receipt(data: st.DataObject) -> None:
    base = bytearray(_RECEIPT)
    pos = data.draw(st.integers(0, len(base) - 1))
    op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    if op == "insert":
        base[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
    elif op == "delete":
        del base[pos : pos + data.draw(st.integers(1, 4))]
    else:
        base[pos] = data.draw(st.integers(0, 255))
    try:
        v = r.verify_receipt(bytes(base), [LOG.verifier()], leaf=ENTRIES[1])
    except MondayError:
        return
    assert (v.index, v.checkpoint.size) == (1, 3)  # only a no-op change can survive


_RECEIPT = _receipt(1)


class _UniformTree:
    """A consistent tree of any size whose leaves are all the same entry: O(1) per node."""

    def __init__(self, levels: int = 64) -> None:
        self.hashes = [m.leaf_hash(b"synthetic decision record")]
        for _ in range(levels):
            self.hashes.append(m.node_hash(self.hashes[-1], self.hashes[-1]))

    def subtree_hash(self, level: int, index: int) -> bytes:
        return self.hashes[level]


def test_receipt_size_at_one_million_entries() -> None:
    size = 1_000_000
    tree = _UniformTree()
    origin = "audit.example.com/claims-triage/prod"
    log = n.Ed25519Signer.generate(origin)
    witnesses = [
        n.CosignatureSigner(f"witness{i}.example.org", n.Ed25519Signer.generate("w")._key)
        for i in range(2)
    ]
    cp = c.Checkpoint(origin, size, m.root_at(size, tree))
    note = c.sign_checkpoint(cp, [log, *witnesses])
    worst = 0
    for index in (0, 123_456, 999_999, 524_287):
        proof = m.inclusion_proof(index, size, tree)
        data = r.build_receipt(index, proof, note, leaf_hash=tree.hashes[0])
        r.verify_receipt(
            data,
            [log.verifier(), *(w.verifier() for w in witnesses)],
            leaf_hash=tree.hashes[0],
            origin=origin,
            min_cosignatures=2,
        )
        worst = max(worst, len(data))
    assert worst <= 2048, f"receipt is {worst} bytes"


def test_a_receipt_with_crlf_or_trailing_spaces_says_so() -> None:
    data = _receipt(1)
    for changed, what in (
        (data.replace(b"\n", b"\r\n"), "a CR"),
        (data.replace(b"\n", b"  \n", 1), "trailing spaces"),
    ):
        with pytest.raises(r.ReceiptError, match=f"first line ends in {what}"):
            r.parse_receipt(changed)


def test_a_vkey_padded_with_unicode_white_space_is_refused() -> None:
    vkey = LOG.vkey
    assert n.parse_vkey(f" {vkey}\n").key_id == LOG.key_id
    for pad in ("\u00a0", "\u2003"):
        with pytest.raises(n.NoteError):
            n.parse_vkey(f"{pad}{vkey}{pad}")
