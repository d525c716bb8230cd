"""``export --tiles`` over an earlier export: it updates an export of the same log that its
tree extends, and refuses another log's export or a diverged history before writing a file.

Every log here is a real SQLite store written through ``open_log``."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from tests.audit.conftest import make_config

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit import tiles as t
from mondaytest.audit.checkpoint import peek_checkpoint
from mondaytest.audit.export import export_store
from mondaytest.errors import CheckFailed, InputError


def _append(config: LogConfig, count: int, tag: str) -> int:
    """Append ``count`` decisions tagged ``tag``, publish a checkpoint; return its size."""
    with open_log(config) as log:
        log.append_drafts(
            [log.draft("decision", {"decision": f"{tag}-{i}"}) for i in range(count)],
            "sequenced",
        )
        return log.checkpoint().size


def _export(config: LogConfig, directory: Path) -> int:
    with open_log(config, readonly=True) as log:
        cp, _files = export_store(log, directory)
    return cp.size


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def _verify(config: LogConfig, directory: Path) -> int:
    return t.verify_tiles(directory, config.verifiers(), origin=config.origin).checkpoint.size


def test_an_export_is_updated_as_its_log_grows(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    out = tmp_path / "tiles"
    size = _append(config, 300, "a")
    assert _export(config, out) == size
    assert _export(config, out) == size  # the same checkpoint again
    grown = _append(config, 250, "b")
    assert grown > size
    assert _export(config, out) == grown
    assert _verify(config, out) == grown


def test_an_export_of_another_log_is_not_overwritten(tmp_path: Path) -> None:
    ours = make_config(tmp_path / "ours")
    theirs = replace(make_config(tmp_path / "theirs"), origin="monday.test/audit/other")
    out = tmp_path / "tiles"
    _append(theirs, 40, "t")
    _export(theirs, out)
    before = _snapshot(out)
    _append(ours, 300, "o")
    with pytest.raises(InputError) as err:
        _export(ours, out)
    assert err.value.exit_code == 2
    message = str(err.value)
    assert "holds an export of the log 'monday.test/audit/other'" in message
    assert "nothing was written" in message
    assert _snapshot(out) == before


def _diverged(tmp_path: Path, shared: int, extra_a: int, extra_b: int) -> tuple[LogConfig, ...]:
    """Two stores of one log (one key, one origin) sharing ``shared`` entries, then apart."""
    a = make_config(tmp_path, name="a.db")
    _append(a, shared, "shared")
    shutil.copyfile(tmp_path / "a.db", tmp_path / "b.db")  # closed cleanly: one file
    b = make_config(tmp_path, name="b.db")
    if extra_a:
        _append(a, extra_a, "a")
    if extra_b:
        _append(b, extra_b, "b")
    return a, b


@pytest.mark.parametrize(("extra_a", "extra_b"), [(20, 60), (20, 20), (60, 20)])
def test_an_export_of_a_diverged_history_is_refused(
    tmp_path: Path, extra_a: int, extra_b: int
) -> None:
    a, b = _diverged(tmp_path, 100, extra_a, extra_b)
    out = tmp_path / "tiles"
    old_size = _export(a, out)
    before = _snapshot(out)
    with pytest.raises(CheckFailed) as err:
        _export(b, out)
    assert err.value.exit_code == 1
    message = str(err.value)
    assert f"at size {old_size}" in message
    if extra_b >= extra_a:
        assert "the two histories differ; nothing was written" in message
    else:  # b's store is smaller: it cannot tell another history from an older copy
        assert "an older copy of the log, or another history; nothing was written" in message
    assert _snapshot(out) == before
    assert _verify(a, out) == old_size


def test_the_store_of_an_older_copy_cannot_move_an_export_back(tmp_path: Path) -> None:
    a, b = _diverged(tmp_path, 100, 50, 0)  # b is a's history before its last 50 entries
    out = tmp_path / "tiles"
    newer = _export(a, out)
    before = _snapshot(out)
    with pytest.raises(CheckFailed, match=f"at size {newer}, which this store") as err:
        _export(b, out)
    assert "holds only 101 entries: an older copy of the log" in str(err.value)
    assert _snapshot(out) == before
    assert _export(a, out) == newer  # the store that made it still updates it


def test_an_export_newer_than_the_latest_checkpoint_is_kept(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    out = tmp_path / "tiles"
    _append(config, 30, "x")
    size = _export(config, out)
    # a checkpoint file written by a later export, while this store's latest checkpoint is
    # older: same history (the store holds the entries) but exporting would move it back
    with open_log(config) as log:
        log.append_drafts([log.draft("decision", {"decision": "y"})], "sequenced")
        later = log.checkpoint()
    (out / "checkpoint").write_bytes(later.note)
    shutil.copyfile(tmp_path / "audit.db", tmp_path / "copy.db")
    conn = sqlite3.connect(tmp_path / "copy.db")
    conn.execute("DELETE FROM checkpoints WHERE seq = (SELECT MAX(seq) FROM checkpoints)")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match=f"at size {later.size}, newer than the log's latest"):
        _export(make_config(tmp_path, name="copy.db"), out)
    assert peek_checkpoint((out / "checkpoint").read_bytes()).size == later.size > size


def test_a_checkpoint_file_that_is_no_checkpoint_is_not_overwritten(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    _append(config, 10, "x")
    out = tmp_path / "tiles"
    out.mkdir()
    (out / "checkpoint").write_text("not a checkpoint\n")
    with pytest.raises(InputError, match="is not a checkpoint"):
        _export(config, out)
    assert (out / "checkpoint").read_text() == "not a checkpoint\n"
    assert _snapshot(out) == {"checkpoint": b"not a checkpoint\n"}


def _project(root: Path, origin: str, monkeypatch: pytest.MonkeyPatch) -> LogConfig:
    """A governed project at ``root`` with the log ``origin`` and its key; its LogConfig."""
    from tests.conftest import VALID_SPEC, write_project

    from mondaytest.cli.app import main
    from mondaytest.spec import load_spec

    spec = VALID_SPEC.replace("origin: audit.example.com/claims", f"origin: {origin}")
    assert spec != VALID_SPEC
    write_project(root, spec)
    monkeypatch.chdir(root)
    assert main(["audit", "keygen"]) == 0
    return LogConfig.from_spec(load_spec(root / "monday.yaml"))


def test_the_cli_refuses_an_export_of_another_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through ``monday audit export`` too: exit 2, the earlier export left as it was."""
    from mondaytest.cli.app import main

    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    out = tmp_path / "tiles"
    theirs = _project(tmp_path / "theirs", "audit.example.com/theirs", monkeypatch)
    _append(theirs, 5, "t")
    assert main(["audit", "export", "--tiles", str(out)]) == 0
    before = _snapshot(out)
    ours = _project(tmp_path / "ours", "audit.example.com/ours", monkeypatch)
    _append(ours, 5, "o")
    capsys.readouterr()
    assert main(["audit", "export", "--tiles", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "holds an export of the log 'audit.example.com/theirs'" in err
    assert _snapshot(out) == before
    # an export of its own log is updated as before
    assert main(["audit", "export", "--tiles", str(tmp_path / "ours-tiles")]) == 0
    _append(ours, 5, "p")
    assert main(["audit", "export", "--tiles", str(tmp_path / "ours-tiles")]) == 0
