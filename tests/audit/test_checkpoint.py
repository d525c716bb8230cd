"""C2SP checkpoints: the audit.md worked example, strict parsing, log vs witness signatures."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mondaytest.audit import checkpoint as c
from mondaytest.audit import note as n
from mondaytest.audit.merkle import EMPTY_ROOT
from mondaytest.errors import MondayError

ORIGIN = "monday.example/audit/demo"
SEED = hashlib.sha256(b"monday example key - do not use").digest()
ROOT_B64 = "mlDIn62y2F9NCOwZabRt3+xVyF1o4Ujicxzg45FIhN0="
# audit.md §4.8, byte for byte.
WORKED = (
    f"{ORIGIN}\n3\n{ROOT_B64}\n\n"
    f"— {ORIGIN} AdtgqvtffjCpxlnS420oZQ4sF0d8zKjhWQ59TSOAndmkRcMsPJ/FOhnt/l7/E406xWJ4ueitHiHYFDUSq"
    "cJDfXqpHQM=\n"
).encode()
LOG = n.Ed25519Signer.from_seed(ORIGIN, SEED)


def test_worked_example_opens_and_is_reproduced() -> None:
    cp = c.open_checkpoint(WORKED, [LOG.verifier()], origin=ORIGIN)
    assert (cp.origin, cp.size, cp.root.hex()[:8]) == (ORIGIN, 3, "9a50c89f")
    assert cp.extensions == ()
    assert cp.note == WORKED
    assert [s.name for s in cp.log_signatures] == [ORIGIN]
    assert cp.cosignatures == ()
    assert (
        c.sign_checkpoint(c.Checkpoint(ORIGIN, 3, cp.root), [LOG]) == WORKED
    )  # Ed25519 is deterministic
    assert len(WORKED) < 250


def test_c2sp_checkpoint_example_parses() -> None:
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = c.parse_checkpoint(body)
    assert cp.size == 20852163
    assert cp.body() == body


def test_roundtrip_with_extensions_and_witnesses() -> None:
    witness = n.CosignatureSigner(
        "witness.example/w1",
        n.Ed25519Signer.from_seed("x", hashlib.sha256(b"w").digest())._key,
        clock=lambda: 1_750_000_000,
    )
    cp = c.Checkpoint(ORIGIN, 0, EMPTY_ROOT, ("ext one", "ext-two"))
    signed = c.sign_checkpoint(cp, [LOG, witness])
    opened = c.open_checkpoint(signed, [LOG.verifier(), witness.verifier()])
    assert opened == cp
    assert opened.extensions == ("ext one", "ext-two")
    assert [s.timestamp for s in opened.cosignatures] == [1_750_000_000]
    assert c.peek_checkpoint(signed) == cp


def test_witness_signature_alone_is_not_enough() -> None:
    witness = n.CosignatureSigner(
        "witness.example/w1", n.Ed25519Signer.generate("x")._key, clock=lambda: 1
    )
    signed = c.sign_checkpoint(c.Checkpoint(ORIGIN, 1, EMPTY_ROOT), [LOG, witness])
    with pytest.raises(n.SignatureError, match="log's own key"):
        c.open_checkpoint(signed, [witness.verifier()])


def test_log_key_must_be_named_after_the_origin() -> None:
    other = n.Ed25519Signer.generate("other.example/log")
    signed = c.sign_checkpoint(c.Checkpoint(ORIGIN, 1, EMPTY_ROOT), [other])
    with pytest.raises(n.SignatureError, match="log's own key"):
        c.open_checkpoint(signed, [other.verifier()])


def test_signed_by_another_key_fails() -> None:
    impostor = n.Ed25519Signer.generate(ORIGIN)
    signed = c.sign_checkpoint(c.Checkpoint(ORIGIN, 3, EMPTY_ROOT), [impostor])
    with pytest.raises(n.SignatureError) as err:
        c.open_checkpoint(signed, [LOG.verifier()])
    assert err.value.exit_code == 1


def test_origin_mismatch() -> None:
    with pytest.raises(c.OriginMismatch, match="expected"):
        c.open_checkpoint(WORKED, [LOG.verifier()], origin="monday.example/other")


def test_rotation_dual_signed_checkpoint_verifies_with_either_key() -> None:
    new = n.Ed25519Signer.generate(ORIGIN)
    signed = c.sign_checkpoint(c.Checkpoint(ORIGIN, 9, EMPTY_ROOT), [LOG, new])
    assert c.open_checkpoint(signed, [LOG.verifier()]).size == 9
    assert c.open_checkpoint(signed, [new.verifier()]).size == 9


@pytest.mark.parametrize(
    "flip_at", [0, len(ORIGIN) + 1, len(ORIGIN) + 4, len(ORIGIN) + 10, len(WORKED) - 10]
)
def test_any_changed_byte_fails(flip_at: int) -> None:
    bad = bytearray(WORKED)
    bad[flip_at] ^= 0x01
    with pytest.raises(MondayError):
        c.open_checkpoint(bytes(bad), [LOG.verifier()])


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("", "newline"),
        ("origin\n", "3 lines|1 lines"),
        ("origin\n3\n", "lines"),
        (f"\n3\n{ROOT_B64}\n", "origin"),
        (f"o\n03\n{ROOT_B64}\n", "leading zeros"),
        (f"o\n-3\n{ROOT_B64}\n", "decimal"),
        (f"o\n+3\n{ROOT_B64}\n", "decimal"),
        (f"o\n 3\n{ROOT_B64}\n", "decimal"),
        (f"o\n3 \n{ROOT_B64}\n", "decimal"),
        (f"o\n\n{ROOT_B64}\n", "decimal"),
        (f"o\n٣\n{ROOT_B64}\n", "decimal"),
        (f"o\n18446744073709551616\n{ROOT_B64}\n", "64 bits"),
        (f"o\n{'1' * 30}\n{ROOT_B64}\n", "64 bits"),
        ("o\n3\nAAAA\n", "bytes"),
        ("o\n3\n!!!\n", "base64"),
        (f"o\n3\n{ROOT_B64[:-2]}==\n", "canonical|bytes|base64"),
        (f"o\n3\n{ROOT_B64}\n\n", "empty"),
        (f"o\n3\n{ROOT_B64}\next\n\nmore\n", "empty"),
        (f"o\n3\n{ROOT_B64}", "newline"),
        (f"o\t\n3\n{ROOT_B64}\n", "control"),
    ],
)
def test_malformed_bodies(body: str, match: str) -> None:
    with pytest.raises(c.CheckpointError, match=match) as err:
        c.parse_checkpoint(body)
    assert err.value.exit_code == 2


def test_max_size_and_invalid_constructions() -> None:
    assert c.parse_checkpoint(f"o\n18446744073709551615\n{ROOT_B64}\n").size == 2**64 - 1
    empty_b64 = base64.b64encode(EMPTY_ROOT).decode()
    assert c.parse_checkpoint(f"o\n0\n{empty_b64}\n").size == 0
    # RFC 9162 §2.1.1: an empty tree has exactly one root
    with pytest.raises(c.CheckpointError, match="size 0 must carry the empty tree's root"):
        c.parse_checkpoint(f"o\n0\n{ROOT_B64}\n")
    for args in [
        ("", 1, EMPTY_ROOT),
        ("o\n", 1, EMPTY_ROOT),
        ("o", -1, EMPTY_ROOT),
        ("o", 1, b"x"),
    ]:
        with pytest.raises(c.CheckpointError):
            c.Checkpoint(*args)
    with pytest.raises(c.CheckpointError):
        c.Checkpoint("o", 2**64, EMPTY_ROOT)
    with pytest.raises(c.CheckpointError):
        c.Checkpoint("o", True, EMPTY_ROOT)
    with pytest.raises(c.CheckpointError):
        c.Checkpoint("o", 1, EMPTY_ROOT, ("",))
    with pytest.raises(c.CheckpointError):
        c.parse_checkpoint(b"\xff\n1\n" + ROOT_B64.encode() + b"\n")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120) | st.binary(max_size=120))
def test_fuzz_parse_checkpoint(data: str | bytes) -> None:
    try:
        cp = c.parse_checkpoint(data)
    except MondayError:
        return
    assert c.parse_checkpoint(cp.body()) == cp


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_open_mutated_checkpoint(data: st.DataObject) -> None:
    base = bytearray(WORKED)
    pos = data.draw(st.integers(0, len(base) - 1))
    op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
    if op == "flip":
        base[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif op == "insert":
        base[pos:pos] = data.draw(st.binary(min_size=1, max_size=2))
    else:
        del base[pos]
    try:
        cp = c.open_checkpoint(bytes(base), [LOG.verifier()])
    except MondayError:
        return
    assert (cp.origin, cp.size) == (ORIGIN, 3)  # only signature-line noise can survive
