"""Fixtures for audit tests: a key, a LogConfig on a real SQLite file, a governed project."""

from __future__ import annotations

from pathlib import Path

import pytest

from mondaytest.audit import LogConfig, WriterSettings
from mondaytest.audit.keys import generate_key_file
from mondaytest.audit.note import Ed25519Signer

ORIGIN = "monday.test/audit/unit"


def make_config(tmp: Path, *, name: str = "audit.db", **overrides: object) -> LogConfig:
    """A LogConfig with a fresh key in ``tmp`` and a store ``tmp/name``."""
    key = tmp / "audit.key"
    signer = generate_key_file(key, ORIGIN) if not key.exists() else None
    vkey = signer.vkey if signer else (tmp / "audit.vkey").read_text()
    (tmp / "audit.vkey").write_text(vkey)
    fields: dict[str, object] = {
        "origin": ORIGIN,
        "store_url": f"sqlite:///{tmp / name}",
        "base_dir": tmp,
        "key": f"file:{key}",
        "vkey": vkey,
        "writer": WriterSettings(checkpoint_interval=0.2),
    }
    fields.update(overrides)
    return LogConfig(**fields)  # type: ignore[arg-type]


@pytest.fixture
def config(tmp_path: Path) -> LogConfig:
    """A writable log config on tmp_path/audit.db."""
    return make_config(tmp_path)


@pytest.fixture
def other_signer() -> Ed25519Signer:
    """A key with the same name as the log's, but not the log's."""
    return Ed25519Signer.generate(ORIGIN)
