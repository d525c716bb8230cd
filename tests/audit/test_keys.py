"""Key files: generation with mode 0600, file:/env: references, clear errors, vkey checks."""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

import pytest

from mondaytest.audit import keys as k
from mondaytest.audit import note as n
from mondaytest.errors import ConfigError, InputError

ORIGIN = "audit.example.com/claims-triage/prod"

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


@posix_only
def test_generate_key_file_mode_and_roundtrip(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        path = tmp_path / ".monday" / "keys" / "audit.key"
        signer = k.generate_key_file(path, ORIGIN)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert text.startswith(f"PRIVATE+KEY+{ORIGIN}+")
    assert text.endswith("\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = k.load_signer("file:.monday/keys/audit.key", base_dir=tmp_path)
    assert loaded.vkey == signer.vkey == k.vkey_of(signer)
    k.check_signer_matches(loaded, signer.vkey)
    assert n.parse_vkey(k.vkey_of(signer)).name == ORIGIN


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    first = k.generate_key_file(path, ORIGIN)
    with pytest.raises(k.KeyFileError, match="already exists"):
        k.generate_key_file(path, ORIGIN)
    assert k.load_signer(f"file:{path}").vkey == first.vkey
    second = k.generate_key_file(path, ORIGIN, overwrite=True)
    assert k.load_signer(f"file:{path}").vkey == second.vkey != first.vkey
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["audit.key"]  # no temp files left


def test_load_from_env() -> None:
    signer = k.generate_signer(ORIGIN)
    env = {"MONDAY_AUDIT_KEY": n.format_signer_key(signer) + "\n"}
    assert k.load_signer("env:MONDAY_AUDIT_KEY", environ=env).vkey == signer.vkey
    with pytest.raises(k.KeyFileError, match="MONDAY_AUDIT_KEY is not set") as err:
        k.load_signer("env:MONDAY_AUDIT_KEY", environ={})
    assert err.value.exit_code == 2
    with pytest.raises(k.KeyFileError, match="not set or empty"):
        k.load_signer("env:MONDAY_AUDIT_KEY", environ={"MONDAY_AUDIT_KEY": "  "})


def test_missing_file_and_bad_references(tmp_path: Path) -> None:
    with pytest.raises(k.KeyFileError, match="does not exist") as err:
        k.load_signer("file:nope.key", base_dir=tmp_path)
    assert str(tmp_path / "nope.key") in str(err.value)
    assert "keygen" in str(err.value)
    for ref in ("nope.key", "file:", "env:", "s3://bucket/key", "FILE:x"):
        with pytest.raises(k.KeyFileError, match="file:PATH or env:VAR"):
            k.load_signer(ref, base_dir=tmp_path)


def test_ref_resolution(tmp_path: Path) -> None:
    assert k.parse_key_ref("file:a/b.key", tmp_path) == k.KeyRef("file", str(tmp_path / "a/b.key"))
    assert k.parse_key_ref("file:/abs/x.key", tmp_path).target == "/abs/x.key"
    assert k.parse_key_ref("env:X").kind == "env"
    assert str(k.parse_key_ref("env:X")) == "env:X"


def test_malformed_key_file_never_echoes_content(tmp_path: Path) -> None:
    path = tmp_path / "bad.key"
    secret = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKD"  # truncated key material
    path.write_text(f"PRIVATE+KEY+PeterNeumann+c74f20a3+{secret}\n")
    path.chmod(0o600)
    with pytest.raises(k.KeyFileError, match="does not hold a valid signing key") as err:
        k.load_signer(f"file:{path}")
    assert secret not in str(err.value)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(k.KeyFileError, match=r"cannot read|not UTF-8"):
        k.load_signer(f"file:{path}")
    path.write_text("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k\n")
    with pytest.raises(k.KeyFileError, match="PRIVATE"):
        k.load_signer(f"file:{path}")


@posix_only
def test_permissions_warning_and_strict(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    k.generate_key_file(path, ORIGIN)
    path.chmod(0o644)
    assert any("0644" in p for p in k.key_file_problems(path))
    with pytest.warns(k.InsecureKeyFileWarning, match="chmod 600"):
        k.load_signer(f"file:{path}")
    with pytest.raises(k.KeyFileError, match="unsafe key file"):
        k.load_signer(f"file:{path}", strict_permissions=True)
    path.chmod(0o600)
    assert k.key_file_problems(path) == []
    assert k.key_file_problems(tmp_path) == [f"{tmp_path} is not a regular file"]
    assert "cannot stat" in k.key_file_problems(tmp_path / "missing")[0]


@posix_only
def test_unwritable_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        if os.access(locked, os.W_OK):  # running as root
            pytest.skip("directory permissions are not enforced for this user")
        with pytest.raises(k.KeyFileError, match="cannot create key file"):
            k.generate_key_file(locked / "audit.key", ORIGIN)
    finally:
        locked.chmod(0o700)


def test_check_signer_matches() -> None:
    signer = k.generate_signer(ORIGIN)
    k.check_signer_matches(signer, signer.vkey)
    other = k.generate_signer(ORIGIN)
    with pytest.raises(k.KeyMismatch, match="is not the key of the recorded vkey") as err:
        k.check_signer_matches(signer, other.vkey)
    assert isinstance(err.value, ConfigError)
    assert err.value.exit_code == 2
    assert signer.key_id.hex() in str(err.value)
    assert other.key_id.hex() in str(err.value)
    renamed = k.generate_signer("another.example/log")
    with pytest.raises(k.KeyMismatch, match="named"):
        k.check_signer_matches(renamed, signer.vkey)
    wit = n.CosignatureSigner(ORIGIN, n.Ed25519Signer.generate("x")._key)
    with pytest.raises(k.KeyMismatch, match="signature type"):
        k.check_signer_matches(signer, wit.vkey)
    with pytest.raises(ConfigError, match="malformed"):
        k.check_signer_matches(signer, "not a vkey")


def test_bad_key_name() -> None:
    with pytest.raises(k.KeyFileError, match="cannot name"):
        k.generate_signer("has space")
    assert issubclass(k.KeyFileError, InputError)


def test_a_private_key_in_a_config_vkey_is_never_echoed() -> None:
    from mondaytest.audit.log import LogConfig

    secret = n.format_signer_key(k.generate_signer("x.example/log"))
    config = LogConfig(origin="x.example/log", store_url="sqlite:///unused.db", vkey=secret)
    with pytest.raises(ConfigError) as info:
        config.verifiers()
    assert secret.split("+", 4)[4] not in str(info.value)
    assert "this is a private key" in str(info.value)
