"""C2SP signed notes and cosignature/v1: known answers, verification rules, malformed input."""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from mondaytest.audit import note as n
from mondaytest.errors import MondayError

# c2sp.org/signed-note, "Example" section (C2SP/C2SP @ 5ba5ee8).
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n"
    "\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOB"
    "H3mFXmRKuwHjG1Yu72IneyaQM=\n"
).encode()

# golang.org/x/mod/sumdb/note package documentation (the reference implementation).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
    "qfqdngotpRZb6KE6RyyBwJnAM=\n"
).encode()

# c2sp.org/tlog-cosignature example: a checkpoint with a log signature and a cosignature.
C2SP_COSIGNED = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhc"
    "yv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX"
    "3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
).encode()


def _signer(name: str, tag: bytes = b"") -> n.Ed25519Signer:
    return n.Ed25519Signer.from_seed(name, hashlib.sha256(name.encode() + tag).digest())


def _cosigner(name: str, ts: int = 1_700_000_000) -> n.CosignatureSigner:
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"w" + name.encode()).digest())
    return n.CosignatureSigner(name, key, clock=lambda: ts)


# --- known answers ------------------------------------------------------------------------


def test_c2sp_example_vkey_and_note() -> None:
    v = n.parse_vkey(C2SP_VKEY)
    assert v.name == "example.com/foo"
    assert v.key_id.hex() == "530d903a"
    assert v.sig_type == n.SIG_ED25519
    assert v.vkey == C2SP_VKEY
    assert n.key_id(v.name, 1, v.public_key) == bytes.fromhex("530d903a")
    opened = n.open_note(C2SP_NOTE, [v])
    assert opened.text == "This is an example message.\n"
    assert [s.name for s in opened.signatures] == ["example.com/foo"]
    assert opened.to_bytes() == C2SP_NOTE


def test_go_reference_key_and_note_byte_for_byte() -> None:
    signer = n.parse_signer_key(GO_SKEY)
    assert signer.vkey == GO_VKEY
    assert n.format_signer_key(signer) == GO_SKEY
    assert n.sign_note(GO_TEXT, [signer]) == GO_NOTE
    assert n.open_note(GO_NOTE, [n.parse_vkey(GO_VKEY)]).text == GO_TEXT


def test_audit_md_worked_example_vkey() -> None:
    seed = hashlib.sha256(b"monday example key - do not use").digest()
    signer = n.Ed25519Signer.from_seed("monday.example/audit/demo", seed)
    assert signer.vkey == (
        "monday.example/audit/demo+01db60aa+AbaC04P1Zbqwqu4nk2MlR129NYJ4jyIP2UEMZ/Fbk5kQ"
    )


def test_c2sp_cosignature_example_decodes() -> None:
    text, sigs = n.split_note(C2SP_COSIGNED)
    assert text.startswith("example.com/behind-the-sofa\n20852163\n")
    witness = sigs[1]
    assert witness.name == "witness.example.com/w1"
    assert len(witness.key_id) + len(witness.signature) == 76
    assert n.CosignatureVerifier.timestamp(witness.signature) == 1679315147


# --- signing and opening ------------------------------------------------------------------


def test_sign_and_open_with_several_keys() -> None:
    a, b = _signer("log.example/a"), _signer("log.example/b")
    note = n.sign_note("hello\n\nworld\n", [a, b])
    opened = n.open_note(note, [a.verifier(), b.verifier()])
    assert opened.text == "hello\n\nworld\n"
    assert [s.name for s in opened.signatures] == ["log.example/a", "log.example/b"]
    assert all(s.sig_type == n.SIG_ED25519 and s.timestamp is None for s in opened.signatures)
    only_b = n.open_note(note, [b.verifier()])
    assert [s.name for s in only_b.signatures] == ["log.example/b"]
    assert [s.name for s in only_b.unverified] == ["log.example/a"]


def test_unknown_keys_are_ignored_even_sharing_name_or_id() -> None:
    log = _signer("log.example/a")
    impostor = _signer("log.example/a", b"other key")  # same name, other key (other ID)
    note = n.sign_note("x\n", [impostor, log])
    opened = n.open_note(note, [log.verifier()])
    assert len(opened.signatures) == 1
    assert len(opened.unverified) == 1
    # A line with the known ID but another name is unknown too.
    renamed = note.replace(b"\xe2\x80\x94 log.example/a ", b"\xe2\x80\x94 other.example ", 1)
    assert n.open_note(renamed, [log.verifier()]).unverified[0].name == "other.example"


def test_only_unknown_signatures_rejects() -> None:
    note = n.sign_note("x\n", [_signer("someone.else")])
    with pytest.raises(n.SignatureError, match="no signature from a trusted key") as err:
        n.open_note(note, [_signer("log.example/a").verifier()])
    assert err.value.exit_code == 1
    assert "someone.else" in str(err.value)
    with pytest.raises(n.SignatureError):
        n.open_note(note, [])


def test_failing_known_signature_rejects_even_with_a_good_one() -> None:
    a, b = _signer("a.example"), _signer("b.example")
    good = n.sign_note("payload\n", [a])
    bad = n.sign_note("other\n", [b]).split(b"\n\n")[1]
    forged = good + bad  # b's signature is over other text
    with pytest.raises(n.SignatureError, match="does not verify"):
        n.open_note(forged, [a.verifier(), b.verifier()])
    assert n.open_note(forged, [a.verifier()]).unverified[0].name == "b.example"


def test_tampered_text_fails() -> None:
    v = n.parse_vkey(C2SP_VKEY)
    with pytest.raises(n.SignatureError):
        n.open_note(C2SP_NOTE.replace(b"example", b"exemple", 1), [v])


def test_signature_limits() -> None:
    log = _signer("log.example")
    others = [_signer(f"w{i}.example") for i in range(15)]
    note = n.sign_note("x\n", [log, *others])
    assert len(n.open_note(note, [log.verifier()]).unverified) == 15
    many = [_signer(f"m{i}.example") for i in range(n.MAX_SIGNATURES)]
    _text, _ = n.split_note(note)
    lines = b"".join(
        n.NoteSignature(s.name, s.key_id, s.sign(b"x\n")).line().encode() for s in many
    )
    with pytest.raises(n.NoteError, match="more than"):
        n.open_note(note + lines, [log.verifier()])
    with pytest.raises(n.NoteError):
        n.sign_note("x\n", [log, *many])


def test_duplicate_known_signature_rejected_and_unknown_duplicates_dropped() -> None:
    log = _signer("log.example")
    note = n.sign_note("x\n", [log])
    sig_line = note.split(b"\n\n", 1)[1]
    with pytest.raises(n.NoteError, match="two signatures"):
        n.open_note(note + sig_line, [log.verifier()])
    other = n.sign_note("x\n", [_signer("other")]).split(b"\n\n", 1)[1]
    opened = n.open_note(note + other + other, [log.verifier()])
    assert len(opened.unverified) == 1
    with pytest.raises(n.NoteError, match="already signed"):
        n.sign_note("x\n", [log, log])


def test_ambiguous_verifiers_rejected() -> None:
    log = _signer("log.example")
    clash = n.CosignatureVerifier("log.example", log.public_key)  # different type, other ID
    n.open_note(n.sign_note("x\n", [log]), [log.verifier(), log.verifier(), clash])

    class Fake:
        name = "log.example"
        key_id = log.key_id
        sig_type = 1

        def verify(self, text: bytes, signature: bytes) -> bool:
            return True

    with pytest.raises(n.NoteError, match="share name"):
        n.open_note(n.sign_note("x\n", [log]), [log.verifier(), Fake()])


def test_add_signatures() -> None:
    log, wit = _signer("log.example"), _cosigner("witness.example", ts=1234)
    note = n.sign_note("body\n", [log])
    cosigned = n.add_signatures(note, [wit])
    opened = n.open_note(cosigned, [log.verifier(), wit.verifier()])
    assert [s.timestamp for s in opened.signatures] == [None, 1234]
    assert [s.sig_type for s in opened.signatures] == [n.SIG_ED25519, n.SIG_COSIGNATURE_V1]
    with pytest.raises(n.NoteError, match="already signed"):
        n.add_signatures(cosigned, [wit])


# --- cosignature/v1 -----------------------------------------------------------------------


def test_cosignature_message_and_layout() -> None:
    wit = _cosigner("witness.example/w1", ts=1679315147)
    text = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    expected_msg = b"cosignature/v1\ntime 1679315147\n" + text
    assert n.cosignature_message(text, 1679315147) == expected_msg
    sig = wit.sign(text)
    assert len(sig) == 72
    assert sig[:8] == (1679315147).to_bytes(8, "big")
    wit.verifier()._key.verify(sig[8:], expected_msg)  # plain Ed25519 over the spec's message
    assert wit.key_id == hashlib.sha256(b"witness.example/w1\n\x04" + wit.public_key).digest()[:4]
    v = wit.verifier()
    assert v.verify(text, sig)
    assert n.parse_vkey(v.vkey) == v
    assert isinstance(n.parse_vkey(v.vkey), n.CosignatureVerifier)
    # The timestamp is signed: changing it breaks the signature.
    assert not v.verify(text, (1679315148).to_bytes(8, "big") + sig[8:])
    assert not v.verify(text + b"x\n", sig)
    assert not v.verify(text, sig[:71])
    too_late = (2**63).to_bytes(8, "big") + sig[8:]
    assert not v.verify(text, too_late)
    with pytest.raises(n.NoteError):
        wit.sign_at(text, 2**63)
    with pytest.raises(n.NoteError):
        n.CosignatureVerifier.timestamp(b"short")


def test_cosignature_and_plain_keys_do_not_mix() -> None:
    seed = hashlib.sha256(b"shared").digest()
    plain = n.Ed25519Signer.from_seed("k.example", seed)
    cosig = n.CosignatureSigner("k.example", Ed25519PrivateKey.from_private_bytes(seed))
    assert plain.key_id != cosig.key_id
    text = b"t\n"
    assert not cosig.verifier().verify(text, plain.sign(text))
    assert not plain.verifier().verify(text, cosig.sign(text))
    assert plain.verifier() != cosig.verifier()


# --- keys ---------------------------------------------------------------------------------


def test_signer_key_roundtrip_and_secrecy() -> None:
    for signer in (_signer("log.example/a"), _cosigner("w.example")):
        text = n.format_signer_key(signer)
        assert text.startswith("PRIVATE+KEY+")
        again = n.parse_signer_key(text + "\n")
        assert type(again) is type(signer)
        assert again.vkey == signer.vkey
        secret = text.split("+", 4)[4]
        assert secret not in repr(signer)
        assert secret not in str(signer)


@pytest.mark.parametrize(
    ("vkey", "match"),
    [
        ("", "three"),
        ("example.com/foo+530d903a", "three"),
        ("example.com/foo+530d903a+AekyeRrm+extra", "base64"),
        ("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "empty"),
        ("exa mple+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "space"),
        ("example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "8 hex"),
        ("example.com/foo+530d903g+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "8 hex"),
        ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "does not match"),
        ("example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "does not match"),
        ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2", "base64"),
        ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3R==", "canonical"),
        ("example.com/foo+530d903a+", "empty"),
        ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3Q==", "32 bytes"),
        ("example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "not supported"),
    ],
)
def test_malformed_vkeys(vkey: str, match: str) -> None:
    with pytest.raises(n.NoteError, match=match) as err:
        n.parse_vkey(vkey)
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("skey", "match"),
    [
        ("", "PRIVATE"),
        ("PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "PRIVATE"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3", "PRIVATE"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "match"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKD", "base64"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXH", "seed"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3+BYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "type"),
    ],
)
def test_malformed_signer_keys_never_echo_the_key(skey: str, match: str) -> None:
    with pytest.raises(n.NoteError, match=match) as err:
        n.parse_signer_key(skey)
    secret = skey.split("+", 4)[-1]
    if len(secret) > 8:
        assert secret not in str(err.value)


# --- malformed notes ----------------------------------------------------------------------

_GOOD_SIG = GO_NOTE.split(b"\n\n")[1]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "newline"),
        (b"no newline", "newline"),
        (b"text\n", "blank line"),
        (b"text\n\n", "no signature"),
        (b"text\n\n\n", "no signature"),
        (b"\xff\xfe\n\n" + _GOOD_SIG, "UTF-8"),
        (b"tab\there\n\n" + _GOOD_SIG, "control"),
        (b"cr\r\n\n" + _GOOD_SIG, "control"),
        (b"text\n\n- PeterNeumann AAAA\n", "does not start"),
        (b"text\n\n\xe2\x80\x94 PeterNeumann\n", "must be"),
        (b"text\n\n\xe2\x80\x94 Peter Neumann AAAAAAAA\n", "must be"),
        (b"text\n\n\xe2\x80\x94  AAAAAAAA\n", "empty"),
        (b"text\n\n\xe2\x80\x94 a+b AAAAAAAA\n", "space"),
        (b"text\n\n\xe2\x80\x94 PeterNeumann AAAA\n", "too short"),
        (b"text\n\n\xe2\x80\x94 PeterNeumann !!!!\n", "base64"),
        (b"text\n\n\xe2\x80\x94 PeterNeumann AAAAAAB=\n", "canonical"),
        (GO_NOTE + b"\n", "no signature"),
        (GO_NOTE[:-1], "newline"),
        (b"x" * (n.MAX_NOTE_BYTES + 1), "larger"),
    ],
)
def test_malformed_notes(data: bytes, match: str) -> None:
    with pytest.raises(n.NoteError, match=match) as err:
        n.open_note(data, [n.parse_vkey(GO_VKEY)])
    assert err.value.exit_code == 2


@pytest.mark.parametrize("text", ["", "no newline", "ctl\x00\n", "esc\x1b\n", "surrogate \ud800\n"])
def test_sign_rejects_bad_text(text: str) -> None:
    with pytest.raises(n.NoteError):
        n.sign_note(text, [_signer("log.example")])


def test_sign_rejects_bad_names_and_no_signers() -> None:
    for bad in ("", "a b", "a+b", "tab\t", "nbsp\u00a0x"):
        with pytest.raises(n.NoteError):
            n.Ed25519Signer.generate(bad)
    with pytest.raises(n.NoteError):
        n.sign_note("x\n", [])
    with pytest.raises(n.NoteError):
        n.sign_note(b"\xff\n", [_signer("a")])


# --- fuzzing ------------------------------------------------------------------------------

_VERIFIERS = [n.parse_vkey(GO_VKEY), n.parse_vkey(C2SP_VKEY)]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_open_note_raises_only_monday_errors(data: bytes) -> None:
    with contextlib.suppress(MondayError):
        n.open_note(data, _VERIFIERS)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_notes(data: st.DataObject) -> None:
    base = bytearray(data.draw(st.sampled_from([GO_NOTE, C2SP_NOTE, C2SP_COSIGNED])))
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        pos = data.draw(st.integers(0, len(base) - 1))
        if op == "flip":
            base[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "insert":
            base[pos:pos] = data.draw(st.binary(min_size=1, max_size=3))
        else:
            del base[pos]
    try:
        opened = n.open_note(bytes(base), _VERIFIERS)
    except MondayError:
        return
    # Anything that still opens must carry a genuinely valid signature over its text.
    assert opened.text in (GO_TEXT, "This is an example message.\n")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_fuzz_key_parsers(text: str) -> None:
    for parse in (n.parse_vkey, n.parse_signer_key):
        with contextlib.suppress(MondayError):
            parse(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80).map(lambda s: "PRIVATE+KEY+" + s))
def test_fuzz_signer_key_prefix(text: str) -> None:
    with contextlib.suppress(MondayError):
        n.parse_signer_key(text)


def test_b64_helper() -> None:
    assert n.b64decode_strict(base64.b64encode(b"abc").decode(), "x") == b"abc"
    with pytest.raises(n.NoteError):
        n.b64decode_strict("é", "x")
