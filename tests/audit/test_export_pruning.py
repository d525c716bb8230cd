"""``export --tiles`` prunes entry bundles below the minimum index; ``verify --tiles`` accepts
exactly those (C2SP tlog-tiles pruning), on real SQLite stores through the CLI."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import VALID_SPEC, write_project

from mondaytest.audit import LogConfig, open_log
from mondaytest.audit import tiles as t
from mondaytest.audit.retention import enforce_retention
from mondaytest.audit.verify import retention_min_index
from mondaytest.cli.app import main
from mondaytest.spec import load_spec

SPEC = VALID_SPEC.replace(
    "audit:\n  origin: audit.example.com/claims\n",
    "audit:\n  origin: audit.example.com/claims\n  retention: P200D\n",
)
LATER = datetime.now(UTC) + timedelta(days=201)  # everything logged today is past P200D then


@pytest.fixture
def proj(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    """A governed project with a log key, as the current directory; returns its vkey."""
    write_project(tmp_path, SPEC)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    assert main(["audit", "keygen"]) == 0
    return capsys.readouterr().out.strip()


def _config() -> LogConfig:
    return LogConfig.from_spec(load_spec(Path("monday.yaml")))


def _append(config: LogConfig, count: int) -> None:
    with open_log(config) as log:
        log.append_drafts([log.draft("decision", {"decision": "triage"}) for _ in range(count)])


def _prune(config: LogConfig) -> int:
    """Enforce retention as if 201 days had passed; return the new minimum index."""
    with open_log(config) as log:
        result = enforce_retention(log, now=LATER)
        assert result.entry is not None
        return result.min_index


def _text(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """stdout and stderr with the console's line wrapping undone."""
    captured = capsys.readouterr()
    return " ".join(captured.out.split()), " ".join(captured.err.split())


def _verify_tiles(vkey: str, capsys: pytest.CaptureFixture[str], *extra: str) -> int:
    capsys.readouterr()
    return main(["audit", "verify", "--tiles", "tiles", "--vkey", vkey, *extra])


def test_export_leaves_out_bundles_below_the_minimum_index(
    proj: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config()
    _append(config, 600)  # entries 0 (genesis) .. 600
    floor = _prune(config)  # the retention entry is 601
    assert floor == 601
    _append(config, 10)  # 602 .. 611: size 612
    assert main(["audit", "export", "--tiles", "tiles"]) == 0
    root = Path("tiles")
    # bundles 0 (0..255) and 1 (256..511) end at or below 601: not served
    assert not (root / "tile/entries/000").exists()
    assert not (root / "tile/entries/001").exists()
    # bundle 2 (512..611) straddles the minimum index: written whole
    straddling = root / "tile/entries/002.p/100"
    entries = t.decode_bundle(straddling.read_bytes(), 100)
    assert [retention_min_index(e) for e in entries].count(601) == 1
    # every hash tile is still there, so every root and proof stays computable
    for ref in t.tiles_for_size(612):
        assert (root / ref.path).is_file(), ref.path

    assert _verify_tiles(proj, capsys) == 0
    out = _text(capsys)[0]
    assert "612 entries of audit.example.com/claims" in out
    assert "100 entries checked against their leaf hashes" in out
    assert "512 entries below the minimum index 601 are pruned" in out
    assert _verify_tiles(proj, capsys, "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["entries_checked"], report["min_index"], report["pruned"]) == (100, 601, 512)

    # a changed entry in the bundle that is still served fails
    good = straddling.read_bytes()
    straddling.write_bytes(good.replace(b"triage", b"triagE", 1))
    assert _verify_tiles(proj, capsys) == 1
    assert "does not match its leaf hash" in _text(capsys)[1]
    # so does the served bundle going missing: it holds entries at or above the minimum index
    straddling.unlink()
    assert _verify_tiles(proj, capsys) == 1
    err = _text(capsys)[1]
    assert "3 entry bundles are missing from tiles" in err
    assert "tile/entries/000 … tile/entries/002.p/100" in err
    # (the retention entry went with it, so nothing justifies the other two either)
    assert "no entry in the export declares a minimum index that prunes them" in err
    straddling.write_bytes(good)
    assert _verify_tiles(proj, capsys) == 0


def test_reexport_removes_bundles_pruned_since_and_an_unjustified_gap_fails(
    proj: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config()
    _append(config, 199)  # size 200
    assert main(["audit", "export", "--tiles", "tiles"]) == 0
    partial = Path("tiles/tile/entries/000.p/200")
    assert partial.is_file()
    _append(config, 100)  # size 300
    assert main(["audit", "export", "--tiles", "tiles"]) == 0
    bundle = Path("tiles/tile/entries/000")
    assert bundle.is_file()
    # without a retention entry in the log, an absent bundle is damage, not pruning
    kept = bundle.read_bytes()
    bundle.unlink()
    assert _verify_tiles(proj, capsys) == 1
    err = _text(capsys)[1]
    assert "tile/entries/000 is missing from tiles" in err
    assert "no entry in the export declares a minimum index that prunes it" in err
    bundle.write_bytes(kept)
    assert _verify_tiles(proj, capsys) == 0
    out = _text(capsys)[0]
    assert "300 entries checked" in out
    assert "pruned" not in out

    assert _prune(config) == 300  # the retention entry is 300, and a checkpoint covers it
    assert main(["audit", "export", "--tiles", "tiles"]) == 0  # the earlier export, updated
    assert not bundle.exists()
    assert not partial.exists()  # the older partial version of the pruned bundle too
    assert Path("tiles/tile/entries/001.p/45").is_file()
    assert Path("tiles/tile/0/000").is_file()
    assert _verify_tiles(proj, capsys) == 0
    assert "256 entries below the minimum index 300 are pruned" in _text(capsys)[0]


def test_export_refuses_a_checkpoint_that_predates_the_pruning(
    proj: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config()
    _append(config, 300)
    # retention enforced by a process that publishes no checkpoint (no signing key)
    with open_log(replace(config, key=None)) as log:
        assert enforce_retention(log, now=LATER).min_index == 301
    capsys.readouterr()
    assert main(["audit", "export", "--tiles", "tiles"]) == 2
    err = _text(capsys)[1]
    assert "does not cover the retention entry" in err
    assert "monday audit checkpoint" in err
    assert not Path("tiles").exists()
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    assert main(["audit", "export", "--tiles", "tiles"]) == 0
    assert not Path("tiles/tile/entries/000").exists()
    assert _verify_tiles(proj, capsys) == 0


def test_unpruned_export_is_unchanged(tmp_path: Path) -> None:
    """The library call keeps writing every bundle when nothing is pruned."""
    from tests.audit.conftest import make_config

    from mondaytest.audit.export import export_store

    config = make_config(tmp_path)
    _append(config, 20)
    with open_log(config, readonly=True) as log:
        cp, files = export_store(log, tmp_path / "tiles")
    size = cp.size
    assert files == len(list(t.tiles_for_size(size))) + len(list(t.bundles_for_size(size))) + 1
    report = t.verify_tiles(
        tmp_path / "tiles", config.verifiers(), declared_min_index=retention_min_index
    )
    assert (report.entries_checked, report.min_index, report.pruned) == (size, 0, 0)


def test_a_retention_entry_cannot_declare_a_minimum_above_itself(
    proj: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from mondaytest.audit.sequencer import Sequencer

    config = _config()
    _append(config, 10)
    with open_log(config) as log:
        log.flush()
        lie = {"policy": "P200D", "min_index": 10**12, "expired_records": 0}
        Sequencer(log.store, log.origin).append([log.draft("retention", lie)])
    _append(config, 500)
    with open_log(config) as log:
        log.checkpoint()
    assert main(["audit", "export", "--tiles", "tiles"]) == 0
    for bundle in ("tile/entries/001", "tile/entries/001.p/255"):
        (Path("tiles") / bundle).unlink(missing_ok=True)
    code = _verify_tiles(proj, capsys, "--no-policy")
    out, err = _text(capsys)
    assert code == 1, out
    assert "declares the minimum index 1000000000000, above its own index" in err


def test_tile_reads_are_bounded_and_stay_inside_the_export(tmp_path: Path) -> None:
    reader = t.DirectoryTiles(tmp_path)
    for path in ("/etc/hostname", "../x", "tile/../../x", "tile/\x00"):
        with pytest.raises(t.TileFormatError, match="leaves the directory"):
            reader(path)
    with pytest.raises(t.TileFormatError, match="too large"):
        t.parse_tile_path("tile/" + "9" * 5000 + "/000")
    (tmp_path / "tile" / "0" / "000.p").mkdir(parents=True)
    (tmp_path / "tile" / "0" / "000.p" / "11").mkdir()  # a directory where a tile should be
    tiles = t.TileReader(11, reader)
    with pytest.raises(t.TileError, match=r"cannot read tile/0/000\.p/11"):
        tiles.tile(0, 0)
