"""The evidence vault: tokens, commitments, per-subject encryption, erasure that leaves no bytes."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import sqlite3
import threading
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mondaytest.audit import vault as v
from mondaytest.audit.keys import InsecureKeyFileWarning
from mondaytest.errors import CheckFailed, ConfigError, InputError

SUBJECT = "customer-4711@example.com"
RAW = "Claim text: my neighbour's oak fell on the car, policy HX-99812-ZQ"
RAW_BYTES = RAW.encode()


class Clock:
    """A settable clock (seconds)."""

    def __init__(self, now: float = 1_780_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key_env() -> dict[str, str]:
    return {"MONDAY_VAULT_KEY": v.generate_master_key()}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / ".monday" / "audit.db"


def _open(db: Path, env: dict[str, str], **kw: object) -> v.Vault:
    return v.Vault.open(db, "env:MONDAY_VAULT_KEY", environ=env, **kw)  # type: ignore[arg-type]


def _files(db: Path) -> bytes:
    """The database file and its WAL, concatenated (what an attacker with the disk sees)."""
    data = db.read_bytes()
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        data += wal.read_bytes()
    return data


def _pieces(blob: bytes, size: int = 24, stride: int = 700) -> list[bytes]:
    """Short windows of a blob: a large value is split over overflow pages, so look for pieces."""
    return [blob[i : i + size] for i in range(0, max(len(blob) - size, 1), stride)]


def _on_disk(db: Path, blob: bytes) -> float:
    """Share of the blob's pieces found in the database file or its WAL."""
    disk = _files(db)
    pieces = _pieces(blob)
    return sum(p in disk for p in pieces) / len(pieces)


def _row_bytes(db: Path, token: str) -> list[bytes]:
    """Ciphertexts and the wrapped key of one subject, read directly from SQLite."""
    conn = sqlite3.connect(db)
    try:
        out = [
            bytes(r[0])
            for r in conn.execute("SELECT ciphertext FROM vault_values WHERE token = ?", (token,))
        ]
        out += [
            bytes(r[0])
            for r in conn.execute(
                "SELECT wrapped_key FROM vault_subjects WHERE token = ?", (token,)
            )
        ]
    finally:
        conn.close()
    return out


# --- commitments --------------------------------------------------------------------------


def test_commitment_formula_known_answer() -> None:
    salt = bytes(range(32))
    expected = hashlib.sha256(b"monday.commit/v1\x00" + salt + b"hello").digest()
    c = v.commitment_of(b"hello", salt)
    assert c == "c:" + base64.urlsafe_b64encode(expected).rstrip(b"=").decode()
    assert len(c) == 45
    assert v.commit("hello", salt=salt) == (c, salt)
    assert v.commit(b"hello", salt=salt)[0] == c
    # JSON values commit to their canonical bytes.
    cj, _ = v.commit({"b": 1, "a": ["x", True, None]}, salt=salt)
    assert cj == v.commitment_of(b'{"a":["x",true,null],"b":1}', salt)


def test_commitments_verify_only_with_the_value_and_salt() -> None:
    c, salt = v.commit(RAW)
    assert len(salt) == 32
    assert v.verify_commitment(c, RAW, salt)
    assert v.verify_commitment(c, RAW_BYTES, salt)  # it binds the bytes
    assert not v.verify_commitment(c, RAW + " ", salt)
    assert not v.verify_commitment(c, RAW, bytes(32))
    assert not v.verify_commitment(c, RAW, salt[:31])
    assert not v.verify_commitment(c[:-1] + ("A" if c[-1] != "A" else "B"), RAW, salt)
    assert not v.verify_commitment("c:short", RAW, salt)
    assert not v.verify_commitment(c, 1.5, salt)  # type: ignore[arg-type]
    # Hiding: the same value twice gives unrelated commitments.
    assert v.commit(RAW)[0] != c


@settings(max_examples=100, deadline=None)
@given(
    value=st.one_of(
        st.binary(max_size=64),
        st.text(max_size=64),
        st.dictionaries(st.text("abc", max_size=3), st.integers(-(2**53) + 1, 2**53 - 1)),
    ),
    flip=st.integers(0, 32 * 8 - 1),
)
def test_commitment_property(value: v.Value, flip: int) -> None:
    c, salt = v.commit(value)
    assert v.verify_commitment(c, value, salt)
    bad = bytearray(salt)
    bad[flip // 8] ^= 1 << (flip % 8)
    assert not v.verify_commitment(c, value, bytes(bad))


def test_values_outside_the_profile_are_refused_without_echoing_them() -> None:
    with pytest.raises(InputError) as info:
        v.commit({"amount": 4711.125})
    assert "4711" not in str(info.value)
    assert "outside Monday's JSON profile" in str(info.value)
    # keys of a personal value are personal too: never named in the message
    with pytest.raises(InputError) as named:
        v.commit({"jane.doe@example.com": {"score": 0.75}})
    assert "jane" not in str(named.value)
    assert "score" not in str(named.value)
    with pytest.raises(InputError):
        v.commit(object())  # type: ignore[arg-type]


# --- round trip ---------------------------------------------------------------------------


def test_round_trip_and_stable_tokens(db: Path, key_env: dict[str, str]) -> None:
    with _open(db, key_env) as vault:
        ref = vault.put(SUBJECT, "input", RAW)
        assert ref.token.startswith("tok:")
        assert len(ref.token) == 26
        assert ref.commitment.startswith("c:")
        refs = vault.put_many(
            SUBJECT, {"output": {"code": "refer", "score": "0.87"}, "raw": b"\x00\xff"}
        )
        assert {r.token for r in refs.values()} == {ref.token}
        other = vault.put("someone-else", "input", RAW)
        assert other.token != ref.token
        assert other.commitment != ref.commitment  # fresh salt per value
        assert vault.token(SUBJECT) == ref.token
        assert vault.token("nobody", create=False) is None

        got = vault.get(SUBJECT, "input")
        assert [g.value for g in got] == [RAW]
        assert v.verify_commitment(ref.commitment, got[0].value, got[0].salt)
        assert got[0].commitment == ref.commitment
        assert got[0].token == ref.token
        assert vault.get(SUBJECT, "output")[0].value == {"code": "refer", "score": "0.87"}
        assert vault.get(SUBJECT, "raw")[0].value == b"\x00\xff"
        assert vault.get("nobody", "input") == []

        opened = vault.opening(refs["output"].commitment)
        assert opened.field == "output"
        d = opened.disclosure()
        assert v.verify_commitment(
            d["commitment"], base64.b64decode(d["value"]), base64.b64decode(d["salt"])
        )
        # A second value of the same field is kept beside the first, in order.
        vault.put(SUBJECT, "input", "second claim")
        assert [g.value for g in vault.get(SUBJECT, "input")] == [RAW, "second claim"]
    # Reopening with the same key finds the same subject and values.
    with _open(db, key_env) as again:
        assert again.token(SUBJECT, create=False) == ref.token
        assert again.get(SUBJECT, "input")[0].value == RAW


def test_tokens_are_created_once_under_concurrency(db: Path, key_env: dict[str, str]) -> None:
    vaults = [_open(db, key_env) for _ in range(4)]
    tokens: list[str] = []
    lock = threading.Lock()

    def work(vault: v.Vault, i: int) -> None:
        for j in range(10):
            t = vault.put("shared-subject", "input", f"value {i}/{j}").token
            with lock:
                tokens.append(t)

    threads = [threading.Thread(target=work, args=(vv, i)) for i, vv in enumerate(vaults)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(tokens)) == 1
    assert len(vaults[0].get("shared-subject", "input")) == 40
    for vv in vaults:
        vv.close()


def test_bad_input_is_refused_before_anything_is_written(db: Path, key_env: dict[str, str]) -> None:
    with _open(db, key_env) as vault:
        for field in ("", "1abc", "has space", "x" * 65, "jane@example.com"):
            with pytest.raises(InputError):
                vault.put(SUBJECT, field, "x")
        with pytest.raises(InputError):
            vault.put_many(SUBJECT, {"input": "ok", "output": 0.5})  # type: ignore[dict-item]
        with pytest.raises(InputError):
            vault.put("", "input", "x")
        with pytest.raises(InputError) as info:
            vault.put("y" * 5000, "input", "x")
        assert "yyyy" not in str(info.value)
        assert vault.token(SUBJECT, create=False) is None
        with pytest.raises(InputError):
            vault.opening("not a commitment")
        with pytest.raises(InputError, match="store URL"):
            v.Vault.open("sqlite:///x.db", "env:MONDAY_VAULT_KEY", environ=key_env)


# --- erasure ------------------------------------------------------------------------------


def test_erase_leaves_no_bytes_in_the_database_or_the_wal(
    db: Path, key_env: dict[str, str]
) -> None:
    big = "lorem ipsum personal " * 2000  # ~40 KB: overflow pages
    with _open(db, key_env) as vault:
        # Neighbours before and after, so the subject's rows sit between other rows.
        for i in range(300):
            vault.put(f"before-{i}", "input", f"neighbour value {i}")
        ref = vault.put(SUBJECT, "input", RAW)
        vault.put(SUBJECT, "notes", big)
        for i in range(300):
            vault.put(f"after-{i}", "input", f"neighbour value {i}")
        salt = vault.get(SUBJECT, "input")[0].salt
        secret_rows = _row_bytes(db, ref.token)
        assert len(secret_rows) == 3

        disk = _files(db)
        # Encrypted at rest: the raw value and the salt were never on disk in the clear...
        assert RAW_BYTES not in disk
        assert big.encode()[:200] not in disk
        assert salt not in disk
        # ...while the ciphertexts and the wrapped key are (so the grep below can see them).
        assert all(_on_disk(db, blob) > 0.8 for blob in secret_rows)
        assert len(_pieces(max(secret_rows, key=len))) > 50

        receipt = vault.erase(SUBJECT)
        assert receipt.subject == ref.token
        assert receipt.records == 2
        assert receipt.keys == 1
        assert receipt.scrubbed

        wal = db.with_name(db.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        disk = _files(db)
        for blob in secret_rows:
            assert _on_disk(db, blob) == 0
            assert blob[:16] not in disk
            assert blob[-16:] not in disk
        assert RAW_BYTES not in disk
        assert salt not in disk
        assert vault.get(SUBJECT, "input") == []
        with pytest.raises(v.UnknownRecord):
            vault.opening(ref.commitment)
        # Everyone else is untouched.
        assert vault.get("before-7", "input")[0].value == "neighbour value 7"
        assert vault.get("after-299", "input")[0].value == "neighbour value 299"
        # The commitment in the leaf can no longer be opened; a new put is a new pseudonym.
        assert vault.put(SUBJECT, "input", RAW).token != ref.token


def test_erase_receipt_is_an_erasure_entry_payload(db: Path, key_env: dict[str, str]) -> None:
    with _open(db, key_env) as vault:
        vault.put(SUBJECT, "input", RAW)
        receipt = vault.erase(SUBJECT)
    payload = receipt.payload(legal_basis_ref="DSAR-2026-0042")
    assert payload == {
        "subject": receipt.subject,
        "scope": "all",
        "records": 1,
        "legal_basis_ref": "DSAR-2026-0042",
    }
    assert all(isinstance(x, str | int) and not isinstance(x, float) for x in payload.values())
    assert SUBJECT not in repr(receipt)
    assert SUBJECT not in str(payload)
    assert receipt.erased_at.endswith("Z")
    entries = pytest.importorskip("mondaytest.audit.entries")
    entries.ErasurePayload.model_validate(payload)


def test_erasing_an_unknown_subject_is_a_clear_error(db: Path, key_env: dict[str, str]) -> None:
    with _open(db, key_env) as vault:
        with pytest.raises(v.UnknownSubject) as info:
            vault.erase("never-seen@example.com")
        assert info.value.exit_code == 2
        assert "never-seen" not in str(info.value)
        vault.put(SUBJECT, "input", RAW)
        vault.erase(SUBJECT)
        with pytest.raises(v.UnknownSubject):  # a second erasure finds nothing
            vault.erase(SUBJECT)


def test_erase_waits_for_readers_and_reports_an_unscrubbed_wal(
    db: Path, key_env: dict[str, str]
) -> None:
    with _open(db, key_env) as vault:
        ref = vault.put(SUBJECT, "input", RAW)
        secret_rows = _row_bytes(db, ref.token)
        vault.scrub_timeout = 0.2
        reader = sqlite3.connect(db, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM vault_values").fetchall()  # holds a WAL snapshot
        receipt = vault.erase(SUBJECT)
        assert not receipt.scrubbed
        reader.execute("COMMIT")
        reader.close()
        assert vault.scrub()
        assert all(_on_disk(db, blob) == 0 for blob in secret_rows)


def test_vault_shares_the_file_with_other_tables(db: Path, key_env: dict[str, str]) -> None:
    db.parent.mkdir(parents=True)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("PRAGMA journal_mode = WAL")
    other.execute("CREATE TABLE entries (idx INTEGER PRIMARY KEY, body BLOB)")
    other.execute("INSERT INTO entries VALUES (0, x'00')")
    with _open(db, key_env) as vault:
        vault.put(SUBJECT, "input", RAW)
        other.execute("INSERT INTO entries VALUES (1, x'01')")  # an idle connection stays open
        assert vault.erase(SUBJECT).scrubbed
    assert other.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 2
    names = {r[0] for r in other.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"vault_meta", "vault_subjects", "vault_values", "entries"} <= names
    other.close()


# --- retention ----------------------------------------------------------------------------


def test_expire_removes_old_values_then_empty_subjects(db: Path, key_env: dict[str, str]) -> None:
    clock = Clock(1_780_000_000.0)
    with _open(db, key_env, clock=clock) as vault:
        old = vault.put("old-subject", "input", "old value")
        mixed = vault.put(SUBJECT, "input", "first")
        clock.now += 3600
        vault.put(SUBJECT, "input", "second")
        secret = _row_bytes(db, old.token)
        cutoff = datetime.fromtimestamp(1_780_000_000 + 1800, UTC)
        receipt = vault.expire(cutoff)
        assert (receipt.records, receipt.subjects, receipt.scrubbed) == (2, 1, True)
        assert receipt.before == cutoff.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert vault.token("old-subject", create=False) is None
        assert [g.value for g in vault.get(SUBJECT, "input")] == ["second"]
        assert vault.token(SUBJECT, create=False) == mixed.token
        assert all(_on_disk(db, blob) == 0 for blob in secret)
        with pytest.raises(InputError, match="timezone-aware"):
            vault.expire(datetime(2030, 1, 1))
        clock.now += 10
        assert vault.expire(datetime.fromtimestamp(clock.now + 1, UTC)).subjects == 1


# --- keys ---------------------------------------------------------------------------------


def test_wrong_master_key_fails_clearly(db: Path, key_env: dict[str, str]) -> None:
    with _open(db, key_env) as vault:
        vault.put(SUBJECT, "input", RAW)
        right_id = vault.key_id
    wrong = {"MONDAY_VAULT_KEY": v.generate_master_key()}
    with pytest.raises(v.VaultKeyMismatch) as info:
        _open(db, wrong)
    err = info.value
    assert isinstance(err, ConfigError)
    assert err.exit_code == 2
    assert right_id in str(err)
    assert wrong["MONDAY_VAULT_KEY"] not in str(err)
    assert key_env["MONDAY_VAULT_KEY"][20:] not in str(err)


def test_master_key_loading(tmp_path: Path, db: Path) -> None:
    keyfile = tmp_path / "keys" / "vault.key"
    key = v.write_master_key(keyfile)
    assert (keyfile.stat().st_mode & 0o777) == 0o600
    assert "MONDAY+VAULT+KEY" not in repr(key)
    assert key.key_id in repr(key)
    with pytest.raises(v.VaultKeyError, match="already exists"):
        v.write_master_key(keyfile)
    with v.Vault.open(".monday/audit.db", "file:keys/vault.key", tmp_path) as vault:
        vault.put(SUBJECT, "input", RAW)
        assert vault.key_id == key.key_id
    assert db.exists()  # the relative db path resolved against base_dir

    os.chmod(keyfile, 0o644)
    with pytest.warns(InsecureKeyFileWarning):
        v.load_master_key("file:keys/vault.key", base_dir=tmp_path)
    with pytest.raises(v.VaultKeyError, match="unsafe vault key file"):
        v.load_master_key("file:keys/vault.key", base_dir=tmp_path, strict_permissions=True)

    secret_text = "MONDAY+VAULT+KEY+" + base64.b64encode(b"s" * 31).decode()
    cases = {
        "env:UNSET": "not set",
        "nonsense": "not file:PATH or env:VAR",
        "file:missing.key": "does not exist",
    }
    for ref, fragment in cases.items():
        with pytest.raises(v.VaultKeyError, match=fragment):
            v.load_master_key(ref, base_dir=tmp_path, environ={})
    for text, fragment in {
        "PRIVATE+KEY+x": "is not a vault master key",
        "MONDAY+VAULT+KEY+!!!": "not valid base64",
        secret_text: "32 bytes, got 31",
    }.items():
        with pytest.raises(v.VaultKeyError, match=fragment) as info:
            v.load_master_key("env:K", environ={"K": text})
        assert text not in str(info.value)
    with pytest.raises(v.VaultKeyError) as info:
        v.load_master_key("env:K", environ={"K": secret_text})
    assert secret_text[17:] not in str(info.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        os.chmod(keyfile, 0o600)
        v.load_master_key("file:keys/vault.key", base_dir=tmp_path)


# --- tampering, and nothing personal in errors or logs --------------------------------------


def test_tampered_rows_are_detected(db: Path, key_env: dict[str, str]) -> None:
    with _open(db, key_env) as vault:
        a = vault.put(SUBJECT, "input", RAW)
        b = vault.put("other-subject", "input", "other value")
    conn = sqlite3.connect(db, isolation_level=None)
    (blob,) = conn.execute(
        "SELECT ciphertext FROM vault_values WHERE commitment = ?", (a.commitment,)
    ).fetchone()
    flipped = bytearray(blob)
    flipped[10] ^= 1
    conn.execute(
        "UPDATE vault_values SET ciphertext = ? WHERE commitment = ?",
        (bytes(flipped), a.commitment),
    )
    conn.execute("UPDATE vault_values SET token = ? WHERE commitment = ?", (a.token, b.commitment))
    conn.close()
    with _open(db, key_env) as vault:
        with pytest.raises(v.VaultCorrupt) as info:
            vault.opening(a.commitment)
        assert isinstance(info.value, CheckFailed)
        with pytest.raises(v.VaultCorrupt):  # moved to another subject: AAD no longer matches
            vault.opening(b.commitment)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE vault_values SET ciphertext = 'not a blob' WHERE token = ?", (a.token,))
    conn.close()
    with _open(db, key_env) as vault, pytest.raises(v.VaultCorrupt):
        vault.get(SUBJECT, "input")


def test_nothing_personal_in_logs_or_errors(
    db: Path, key_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    with _open(db, key_env) as vault:
        ref = vault.put(SUBJECT, "input", RAW)
        vault.get(SUBJECT, "input")
        vault.erase(SUBJECT)
        vault.expire(datetime.now(UTC))
        for call in (
            lambda: vault.erase(SUBJECT),
            lambda: vault.opening(ref.commitment),
            lambda: vault.put(SUBJECT, "input", {"k": float(4711)}),
        ):
            try:
                call()
            except InputError as exc:
                messages.append(str(exc))
    assert len(messages) == 3
    text = caplog.text + "\n".join(messages)
    for secret in (SUBJECT, "customer-4711", RAW, "4711"):
        assert secret not in text
    assert "erased 1 record" in caplog.text


def test_a_missing_vault_key_points_at_keygen_vault(tmp_path: Path) -> None:
    from mondaytest.audit.vault import VaultKeyError, load_master_key

    with pytest.raises(VaultKeyError) as info:
        load_master_key(f"file:{tmp_path / 'vault.key'}")
    assert "monday audit keygen --vault" in str(info.value)
    with pytest.raises(VaultKeyError) as info:
        load_master_key("env:MONDAY_NO_SUCH_VAULT_KEY", environ={})
    assert "monday audit keygen --vault" in str(info.value)


def test_a_subject_still_in_use_keeps_its_token_through_retention(
    db: Path, key_env: dict[str, str]
) -> None:
    clock = Clock(1_780_000_000.0)
    day = 86_400.0
    with _open(db, key_env, clock=clock) as vault:
        first = vault.put(SUBJECT, "input", "long ago")
        idle = vault.token("idle-subject")
        clock.now += 300 * day
        assert vault.token(SUBJECT) == first.token  # decided on again today (token only)
        cutoff = datetime.fromtimestamp(clock.now - 200 * day, UTC)
        receipt = vault.expire(cutoff)
        assert receipt.records == 1  # the old value goes
        assert receipt.subjects == 1  # the idle subject goes; the active one stays
        assert vault.token(SUBJECT, create=False) == first.token
        assert vault.token("idle-subject", create=False) is None
        assert idle is not None
        # a use is noted at most once a day: a second lookup the same day writes nothing
        before = db.stat().st_mtime_ns, (db.parent / f"{db.name}-wal").stat().st_size
        assert vault.token(SUBJECT) == first.token
        after = db.stat().st_mtime_ns, (db.parent / f"{db.name}-wal").stat().st_size
        assert before == after
