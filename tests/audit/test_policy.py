"""C2SP tlog-policy: strict parsing with file:line errors, quorum checks on cosigned checkpoints."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from mondaytest.audit import checkpoint as c
from mondaytest.audit import merkle as m
from mondaytest.audit import note as n
from mondaytest.audit.policy import (
    NONE,
    Policy,
    PolicyError,
    QuorumNotMet,
    load_policy,
    parse_policy,
)
from mondaytest.errors import CheckFailed, InputError

ORIGIN = "monday.example/audit/demo"
LOG = n.Ed25519Signer.from_seed(ORIGIN, hashlib.sha256(b"monday example key - do not use").digest())
NEW_LOG = n.Ed25519Signer.from_seed(ORIGIN, hashlib.sha256(b"rotated key").digest())
OTHER_LOG = n.Ed25519Signer.from_seed("other.example/log", hashlib.sha256(b"other").digest())


def _witness(name: str, ts: int = 1_750_000_000) -> n.CosignatureSigner:
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"witness " + name.encode()).digest())
    return n.CosignatureSigner(f"{name.lower()}.witness.example", key, clock=lambda: ts)


W = {
    name: _witness(name, 1_750_000_000 + i)
    for i, name in enumerate(["X1", "X2", "X3", "Y1", "Y2", "Y3", "Z"])
}

SPEC_EXAMPLE = f"""\
# The example of c2sp.org/tlog-policy, with real keys.
log {LOG.vkey}

witness X1 {W["X1"].vkey}
witness X2 {W["X2"].vkey}
witness X3 {W["X3"].vkey}
group X-witnesses 2 X1 X2 X3

witness Y1 {W["Y1"].vkey}
witness Y2 {W["Y2"].vkey}
witness Y3 {W["Y3"].vkey} https://y3.example/witness
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""


def _checkpoint(*cosigners: str, size: int = 3, log: n.Ed25519Signer = LOG) -> bytes:
    entries = [b'{"i":%d}' % i for i in range(size)]
    tree = m.MemoryHashes.from_entries(entries)
    note = c.sign_checkpoint(c.Checkpoint(log.name, tree.size, tree.root()), [log])
    return n.add_signatures(note, [W[name] for name in cosigners]) if cosigners else note


# --- the spec's example, end to end -------------------------------------------------------


def test_spec_example_parses() -> None:
    p = parse_policy(SPEC_EXAMPLE, "audit.policy")
    assert [log.origin for log in p.logs] == [ORIGIN]
    assert list(p.witnesses) == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert p.witnesses["Y3"].url == "https://y3.example/witness"
    assert p.witnesses["X1"].url is None
    assert {g.name: (g.threshold, g.members) for g in p.groups.values()} == {
        "X-witnesses": (2, ("X1", "X2", "X3")),
        "Y-witnesses": (1, ("Y1", "Y2", "Y3")),
        "X-and-Y": (2, ("X-witnesses", "Y-witnesses")),
    }
    assert p.quorum == "X-and-Y"
    assert p.log_verifiers(ORIGIN) == [LOG.verifier()]
    assert p.log_verifiers("other.example/log") == []
    assert p.kind_of("X1") == "witness"
    assert p.kind_of("X-and-Y") == "group"
    assert p.kind_of(NONE) == "none"
    assert p.kind_of("nope") is None


def test_nested_quorum_met() -> None:
    p = parse_policy(SPEC_EXAMPLE)
    result = p.check(_checkpoint("X1", "X3", "Y2"))
    assert result.satisfied
    assert result.witnesses == ("X1", "X3", "Y2")
    assert result.groups == ("X-witnesses", "Y-witnesses", "X-and-Y")
    assert result.log_keys == (LOG.vkey,)
    assert result.cosigned_at == {"X1": 1_750_000_000, "X3": 1_750_000_002, "Y2": 1_750_000_004}
    assert result.checkpoint.origin == ORIGIN
    assert result.checkpoint.size == 3
    assert "quorum X-and-Y met" in result.describe()


def test_nested_quorum_names_what_is_missing() -> None:
    p = parse_policy(SPEC_EXAMPLE, "audit.policy")
    with pytest.raises(QuorumNotMet) as info:
        p.check(_checkpoint("X1", "Y1"))
    err = info.value
    assert err.exit_code == 1
    msg = str(err)
    assert "quorum X-and-Y of audit.policy is not met" in msg
    assert "group X-and-Y needs 2 of 2" in msg
    assert "group X-witnesses needs 2 of 3 (X1, X2, X3) and has 1 (X1); 1 more from: X2, X3" in msg
    assert "Y-witnesses needs" not in msg  # satisfied groups are not blamed
    assert err.result.witnesses == ("X1", "Y1")
    assert err.result.groups == ("Y-witnesses",)
    assert not err.result.satisfied

    with pytest.raises(QuorumNotMet, match="group Y-witnesses needs 1 of 3"):
        p.check(_checkpoint("X1", "X2", "X3"))
    with pytest.raises(QuorumNotMet, match="and has 0; 2 more from"):
        p.check(_checkpoint())


@pytest.mark.parametrize("threshold", ["1", "2", "3", "4", "any", "all"])
def test_k_of_n_over_every_subset(threshold: str) -> None:
    names = ["X1", "X2", "Y1", "Z"]
    text = f"log {LOG.vkey}\n" + "".join(f"witness {w} {W[w].vkey}\n" for w in names)
    text += f"group g {threshold} {' '.join(names)}\nquorum g\n"
    p = parse_policy(text)
    k = {"any": 1, "all": 4}.get(threshold) or int(threshold)
    for r in range(len(names) + 1):
        for subset in itertools.combinations(names, r):
            note = _checkpoint(*subset)
            if len(subset) >= k:
                assert p.check(note).witnesses == tuple(sorted(subset))
            else:
                with pytest.raises(QuorumNotMet, match=f"needs {k} of 4"):
                    p.check(note)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_nested_groups_match_a_direct_evaluation(data: st.DataObject) -> None:
    """Random group trees: the policy's verdict equals a recursive k-of-n evaluation."""
    names = list(W)
    lines = [f"witness {w} {W[w].vkey}" for w in names]
    free = list(names)  # names not yet used as a member (each may be a member once)
    children: dict[str, tuple[int, list[str]]] = {}
    for gi in range(data.draw(st.integers(1, 4))):
        if not free:
            break
        members = data.draw(st.lists(st.sampled_from(free), min_size=1, unique=True))
        k = data.draw(st.integers(1, len(members)))
        name = f"g{gi}"
        children[name] = (k, members)
        free = [f for f in free if f not in members] + [name]
        lines.append(f"group {name} {k} {' '.join(members)}")
    quorum = data.draw(st.sampled_from([*children, *names]))
    p = parse_policy("\n".join([*lines, f"quorum {quorum}"]) + "\n")
    cosigned = set(data.draw(st.lists(st.sampled_from(names), unique=True)))

    def holds(name: str) -> bool:
        if name in children:
            k, members = children[name]
            return sum(holds(mm) for mm in members) >= k
        return name in cosigned

    note = _checkpoint(*sorted(cosigned))
    if holds(quorum):
        assert p.check(note, log_keys=[LOG.verifier()]).satisfied
    else:
        with pytest.raises(QuorumNotMet):
            p.check(note, log_keys=[LOG.verifier()])


# --- what is and is not counted -----------------------------------------------------------


def test_unknown_witnesses_and_unknown_keys_are_ignored() -> None:
    text = f"log {LOG.vkey}\nwitness X1 {W['X1'].vkey}\nquorum X1\n"
    p = parse_policy(text)
    stranger = n.CosignatureSigner("stranger.example", Ed25519PrivateKey.generate())
    note = n.add_signatures(_checkpoint("X1"), [stranger, OTHER_LOG])
    result = p.check(note)
    assert result.witnesses == ("X1",)
    assert result.ignored == 2
    # An unknown witness never counts towards the quorum.
    with pytest.raises(QuorumNotMet, match="witness X1 has not cosigned"):
        p.check(n.add_signatures(_checkpoint(), [stranger]))


def test_a_failing_cosignature_of_a_known_witness_rejects_the_note() -> None:
    p = parse_policy(f"log {LOG.vkey}\nwitness X1 {W['X1'].vkey}\nquorum none\n")
    good = _checkpoint("X1")
    text, sigs = n.split_note(good)
    bad_sig = bytearray(sigs[1].signature)
    bad_sig[-1] ^= 1
    forged = n.NoteSignature(sigs[1].name, sigs[1].key_id, bytes(bad_sig))
    note = (text + "\n" + sigs[0].line() + forged.line()).encode()
    with pytest.raises(n.SignatureError, match="does not verify"):
        p.check(note)


def test_quorum_none_and_single_witness() -> None:
    p = parse_policy(f"log {LOG.vkey}\nwitness X1 {W['X1'].vkey}\nquorum none\n")
    assert p.check(_checkpoint()).satisfied
    assert p.check(_checkpoint("X1")).witnesses == ("X1",)
    single = parse_policy(f"log {LOG.vkey}\nwitness X1 {W['X1'].vkey}\nquorum X1\n")
    assert single.check(_checkpoint("X1")).groups == ()
    with pytest.raises(QuorumNotMet):
        single.check(_checkpoint())


def test_log_signature_rules() -> None:
    p = parse_policy(f"log {LOG.vkey}\nquorum none\n", "p.policy")
    with pytest.raises(n.SignatureError, match=r"trusts no log with origin 'other\.example/log'"):
        p.check(_checkpoint(log=OTHER_LOG))
    with pytest.raises(n.SignatureError, match="no signature from a trusted key"):
        p.check(_checkpoint(log=NEW_LOG))  # same origin, another key
    with pytest.raises(c.OriginMismatch):
        p.check(_checkpoint(), origin="monday.example/elsewhere", log_keys=[LOG.verifier()])
    # A policy with no log line: the log comes from context.
    bare = parse_policy(f"witness X1 {W['X1'].vkey}\nquorum X1\n")
    with pytest.raises(n.SignatureError, match="trusts no log"):
        bare.check(_checkpoint("X1"))
    assert bare.check(_checkpoint("X1"), log_keys=[LOG.verifier()]).satisfied
    # A witness key alone is no log signature.
    only_witness = n.sign_note(c.peek_checkpoint(_checkpoint()).body(), [W["X1"]])
    with pytest.raises(n.SignatureError):
        parse_policy(f"log {LOG.vkey}\nwitness X1 {W['X1'].vkey}\nquorum X1\n").check(only_witness)
    with pytest.raises(n.NoteError):
        p.check(b"not a note")


def test_rotated_log_keys_both_accepted() -> None:
    p = parse_policy(f"log {LOG.vkey}\nlog {NEW_LOG.vkey} https://log.example\nquorum none\n")
    assert p.check(_checkpoint(log=NEW_LOG)).log_keys == (NEW_LOG.vkey,)
    assert p.check(_checkpoint(log=LOG)).log_keys == (LOG.vkey,)
    entries = [b"a", b"b"]
    tree = m.MemoryHashes.from_entries(entries)
    both = c.sign_checkpoint(c.Checkpoint(ORIGIN, 2, tree.root()), [LOG, NEW_LOG])
    assert set(p.check(both).log_keys) == {LOG.vkey, NEW_LOG.vkey}
    assert p.verifiers(ORIGIN) == [LOG.verifier(), NEW_LOG.verifier()]


# --- parsing: what is accepted ------------------------------------------------------------


def test_whitespace_comments_and_missing_final_newline() -> None:
    text = (
        f"  # leading comment\n\t\n \tlog\t{LOG.vkey}  \n"
        f"witness   X1 {W['X1'].vkey}\n   # indented comment\nquorum X1"
    )
    p = parse_policy(text)
    assert p.quorum == "X1"
    assert len(p.logs) == 1


def test_names_are_opaque_octets() -> None:
    kelvin = "\u212a"  # KELVIN SIGN: distinct from the ASCII letter K
    text = (
        f"witness K {W['X1'].vkey}\nwitness {kelvin} {W['X2'].vkey}\n"
        f"group both all K {kelvin}\nquorum both\n"
    ).encode() + b"# comment with raw octets \xff\xfe\n"
    p = parse_policy(text)
    assert set(p.witnesses) == {"K", kelvin}
    with pytest.raises(QuorumNotMet, match=rf"has 1 \(K\); 1 more from: {kelvin} "):
        p.check(_checkpoint("X1"), log_keys=[LOG.verifier()])
    # A raw non-UTF-8 name is allowed and shown escaped.
    raw = parse_policy(b"witness n\xff " + W["X1"].vkey.encode() + b"\nquorum n\xff\n")
    with pytest.raises(QuorumNotMet, match=r"witness n\\xff"):
        raw.check(_checkpoint(), log_keys=[LOG.verifier()])


def test_load_policy_from_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.policy"
    path.write_text(SPEC_EXAMPLE)
    assert load_policy(path).source == str(path)
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "missing.policy")
    assert info.value.exit_code == 2
    assert str(info.value).startswith(f"{tmp_path / 'missing.policy'}: cannot read policy file")


# --- parsing: what is refused, and where ----------------------------------------------------

X1, X2, Y1 = W["X1"].vkey, W["X2"].vkey, W["Y1"].vkey
LOGK = LOG.vkey
# Same public key as X1 under another name and key ID: a duplicate by the spec's definition.
X1_ALIAS = n.CosignatureVerifier("alias.example", W["X1"].public_key).vkey
X1_AS_LOG = n.Ed25519Verifier("x1.witness.example", W["X1"].public_key).vkey
BAD_ID = X1.split("+")[0] + "+00000000+" + X1.split("+", 2)[2]

MALFORMED = [
    # (policy text, line, column, message fragment)
    ("", 1, 0, "no quorum line"),
    (f"log {LOGK}\n", 2, 0, "no quorum line"),
    ("# only a comment\n\n", 3, 0, "no quorum line"),
    (f"log {LOGK}\r\nquorum none\r\n", 1, len(LOGK) + 5, "carriage return"),
    ("quorum none\n\x00\n", 2, 1, "NUL is not allowed"),
    ("quorum\x7fnone\n", 1, 7, "control character 0x7f"),
    ("quorum none\nvkey abc\n", 2, 1, "unknown keyword 'vkey'"),
    ("Log x\nquorum none\n", 1, 1, "unknown keyword 'Log'"),
    ("log\nquorum none\n", 1, 1, "log line needs a vkey"),
    (f"log {X1}\nquorum none\n", 1, 5, "log vkey has signature type 0x04, expected 0x01"),
    (f"log {LOGK} https://x y\nquorum none\n", 1, len(LOGK) + 16, "too many items"),
    (f"log {LOGK} # comment\nquorum none\n", 1, len(LOGK) + 8, "too many items"),
    ("log abc\nquorum none\n", 1, 5, "log vkey: verifier key must have three"),
    (f"log {LOGK}\nlog {LOGK}\nquorum none\n", 2, 5, "already listed on line 1"),
    (f"witness X1 {BAD_ID}\nquorum none\n", 1, 12, "does not match the key"),
    (f"witness X1 {LOGK}\nquorum none\n", 1, 12, "signature type 0x01, expected 0x04"),
    (f"witness X1 {X1_AS_LOG}\nquorum none\n", 1, 12, "expected 0x04"),
    ("witness X1\nquorum none\n", 1, 1, "needs a name and a vkey"),
    (f"witness X1 {X1} u extra\nquorum none\n", 1, len(X1) + 15, "too many items"),
    (f"witness X1 {X1}\nwitness A {X1_ALIAS}\nquorum A\n", 2, 11, "already listed on line 1"),
    (f"witness X1 {X1}\nwitness X1 {X2}\nquorum X1\n", 2, 9, "already defined on line 1"),
    (f"witness none {X1}\nquorum none\n", 1, 9, "cannot be named 'none'"),
    (f"witness X1 {X1}\ngroup X1 any X1\nquorum X1\n", 2, 7, "already defined on line 1"),
    (f"witness X1 {X1}\ngroup none any X1\nquorum none\n", 2, 7, "cannot be named 'none'"),
    (f"witness X1 {X1}\ngroup g any\nquorum g\n", 2, 1, "at least one member"),
    (f"witness X1 {X1}\ngroup g any X2\nquorum g\n", 2, 13, "'X2' is not defined on an earlier"),
    (f"group g any X1\nwitness X1 {X1}\nquorum g\n", 1, 13, "'X1' is not defined on an earlier"),
    (f"witness X1 {X1}\ngroup g any X1 none\nquorum g\n", 2, 16, "'none' cannot be a group member"),
    (f"witness X1 {X1}\ngroup g all X1 X1\nquorum g\n", 2, 16, "already a member of group 'g'"),
    (
        f"witness X1 {X1}\nwitness X2 {X2}\ngroup a any X1\ngroup b any X1 X2\nquorum b\n",
        4,
        13,
        "'X1' is already a member of group 'a' (line 3)",
    ),
    (f"witness X1 {X1}\ngroup g 0 X1\nquorum g\n", 2, 9, "threshold 0 is out of range"),
    (f"witness X1 {X1}\ngroup g 2 X1\nquorum g\n", 2, 9, "1 ≤ k ≤ 1"),
    (f"witness X1 {X1}\ngroup g two X1\nquorum g\n", 2, 9, "'two' is not all, any or a decimal"),
    (f"witness X1 {X1}\ngroup g -1 X1\nquorum g\n", 2, 9, "not all, any or a decimal"),
    (f"witness X1 {X1}\ngroup g +1 X1\nquorum g\n", 2, 9, "not all, any or a decimal"),
    (f"witness X1 {X1}\ngroup g ALL X1\nquorum g\n", 2, 9, "not all, any or a decimal"),
    ("quorum\n", 1, 1, "quorum line must be `quorum <name>`"),
    ("quorum a b\n", 1, 10, "quorum line must be"),
    ("quorum X1\n", 1, 8, "'X1' is not a witness or group defined on an earlier line"),
    (f"quorum X1\nwitness X1 {X1}\n", 1, 8, "is not a witness or group"),
    ("quorum none\nquorum none\n", 2, 1, "second quorum line (the first is on line 1)"),
    (b"witness X1 " + X1.encode()[:-3] + b"\xff\xfe=\nquorum none\n", 1, 12, "not valid UTF-8"),
]


@pytest.mark.parametrize(("text", "line", "col", "fragment"), MALFORMED)
def test_malformed_policies_are_refused_with_their_position(
    text: str | bytes, line: int, col: int, fragment: str
) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "spec/audit.policy")
    err = info.value
    assert err.exit_code == 2
    assert isinstance(err, InputError)
    assert err.location is not None
    assert (err.location.file, err.location.line, err.location.col) == (
        "spec/audit.policy",
        line,
        col,
    ), str(err)
    assert fragment in err.message, str(err)
    where = f"spec/audit.policy:{line}:{col}: " if col else f"spec/audit.policy:{line}: "
    assert str(err).startswith(where)


def test_size_and_count_limits() -> None:
    with pytest.raises(PolicyError, match="larger than"):
        parse_policy(b"#" * (1 << 20) + b"\nquorum none\n")
    keys = [
        n.CosignatureVerifier(f"w{i}.example", bytes([i % 256, i // 256]) * 16) for i in range(1025)
    ]
    lines = [f"witness w{i} {k.vkey}" for i, k in enumerate(keys)]
    with pytest.raises(PolicyError, match="more than 1024 witnesses") as info:
        parse_policy("\n".join([*lines, "quorum none"]))
    assert info.value.location is not None
    assert info.value.location.line == 1025


# --- parsing: fuzz --------------------------------------------------------------------------

VOCAB = [
    "log",
    "witness",
    "group",
    "quorum",
    "none",
    "all",
    "any",
    "0",
    "1",
    "2",
    "3",
    "X1",
    "X2",
    "Y1",
    "g",
    "#",
    LOGK,
    X1,
    X2,
    Y1,
    X1_ALIAS,
    "https://w.example",
    "\u212a",
]
VALID_LINES = [
    f"log {LOGK}",
    f"witness X1 {X1}",
    f"witness X2 {X2}",
    f"witness Y1 {Y1}",
    "group g 2 X1 X2",
    "group h any g Y1",
    "quorum h",
]


def _check_outcome(data: bytes) -> None:
    nlines = data.count(b"\n") + 1
    error: PolicyError | None = None
    try:
        p = parse_policy(data, "fuzz.policy")
    except PolicyError as exc:
        error = exc
    if error is not None:
        assert error.location is not None
        assert error.location.file == "fuzz.policy"
        assert 1 <= error.location.line <= nlines + 1
        assert error.exit_code == 2
        assert "Traceback" not in str(error)
        return
    # Whatever parses is internally consistent.
    assert p.quorum == NONE or p.kind_of(p.quorum) in ("witness", "group")
    for g in p.groups.values():
        assert 1 <= g.threshold <= len(g.members)
        assert all(p.kind_of(mm) in ("witness", "group") for mm in g.members)
    assert isinstance(p, Policy)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(VALID_LINES),
            st.lists(st.sampled_from(VOCAB), min_size=0, max_size=6).map(" ".join),
        ),
        max_size=12,
    )
)
def test_fuzz_token_soup(lines: list[str]) -> None:
    _check_outcome("\n".join(lines).encode())


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, len(VALID_LINES) - 1),
    st.sampled_from(["delete", "duplicate", "swap", "bytes"]),
    st.binary(max_size=8),
)
def test_fuzz_mutations_of_a_valid_policy(i: int, how: str, junk: bytes) -> None:
    lines = [line.encode() for line in VALID_LINES]
    if how == "delete":
        del lines[i]
    elif how == "duplicate":
        lines.insert(i, lines[i])
    elif how == "swap":
        j = (i + 1) % len(lines)
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = lines[i][: len(junk)] + junk + lines[i][len(junk) :]
    _check_outcome(b"\n".join(lines) + b"\n")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _check_outcome(data)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(VALID_LINES)), st.sampled_from(["bogus line", "group", "quorum none"]))
def test_an_inserted_bad_line_is_reported_at_its_own_line(at: int, bad: str) -> None:
    lines = list(VALID_LINES)
    lines.insert(at, bad)
    with pytest.raises(PolicyError) as info:
        parse_policy("\n".join(lines) + "\n", "x.policy")
    assert info.value.location is not None
    # A second quorum is reported on whichever quorum line comes second.
    expected = at + 1
    if bad == "quorum none" and at <= VALID_LINES.index("quorum h"):
        expected = len(VALID_LINES) + 1
    assert info.value.location.line == expected


def test_errors_are_check_failed_or_input_error() -> None:
    assert issubclass(QuorumNotMet, CheckFailed)
    assert issubclass(PolicyError, InputError)


def test_a_huge_group_threshold_is_refused_with_its_position(tmp_path: Path) -> None:
    w = _witness("A")
    text = f"witness W {w.vkey}\ngroup g {'9' * 5000} W\nquorum g\n"
    with pytest.raises(PolicyError, match=r"p\.policy:2:9: group threshold 999999999999… is out"):
        parse_policy(text, "p.policy")


def test_a_policy_file_is_read_with_a_bound(tmp_path: Path) -> None:
    big = tmp_path / "big.policy"
    big.write_bytes(b"# " + b"x" * (2 << 20))
    with pytest.raises(PolicyError, match="larger than"):
        load_policy(big)
