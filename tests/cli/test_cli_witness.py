"""The CI witness cosigns (``witness --key``), ``cosign`` brings the cosignatures into the store,
``verify`` applies the contract's witness policy, and read-only commands never create a store."""

from __future__ import annotations

import io
import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import VALID_SPEC, write_project

from mondaytest.cli.app import main

WITH_POLICY = VALID_SPEC.replace(
    "audit:\n  origin: audit.example.com/claims\n",
    "audit:\n  origin: audit.example.com/claims\n  witness:\n    policy: trust/audit.policy\n",
)
ORIGIN = "audit.example.com/claims"
WITNESS = "ci.example.com/witness"
WITNESS_FILE = Path(".monday-witness/audit.example.com_claims.checkpoint")
LINE = '{"kind": "decision", "payload": {"decision": "triage"}}\n'


def _project(root: Path, monkeypatch: pytest.MonkeyPatch, text: str = VALID_SPEC) -> Path:
    spec = write_project(root, text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.chdir(root)
    monkeypatch.delenv("MONDAY_DATABASE_URL", raising=False)
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(var, "CI")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "ci@example.com")
    return spec


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A governed project in a git repository (no witness policy), as the current directory."""
    return _project(tmp_path, monkeypatch)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, " ".join(captured.out.split()), " ".join(captured.err.split())


def _append(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((LINE * n).encode())))
    assert main(["audit", "append"]) == 0


def _log_with_checkpoint(capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch) -> str:
    """keygen, 3 entries, a checkpoint; the log's vkey."""
    code, vkey, _err = _run(capsys, "audit", "keygen")
    assert code == 0
    _append(mp, 3)
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    return vkey


def _witness_keygen(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code, vkey, err = _run(capsys, "audit", "keygen", "--witness", "--name", WITNESS, *extra)
    assert code == 0, err
    return vkey


# --- 1 and 2: witness --key, cosign, verify --policy ------------------------------------------


def test_ci_witness_cosigns_and_the_cosignature_meets_the_policy(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey = _log_with_checkpoint(capsys, monkeypatch)
    wvkey = _witness_keygen(capsys)
    key = Path(".monday/keys/witness.key")
    assert wvkey.startswith(f"{WITNESS}+")
    assert wvkey.split("+")[2].startswith("B")  # a cosignature/v1 vkey (type 0x04)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    ignored = subprocess.run(["git", "check-ignore", "-q", str(key)], check=False)
    assert ignored.returncode == 0
    Path("p.policy").write_text(f"log {vkey}\nwitness CI {wvkey}\nquorum CI\n", encoding="utf-8")
    store = ["--store", "sqlite:///.monday/audit.db"]

    code, out, err = _run(
        capsys, "audit", "witness", "--commit", ".monday-witness", "--key", f"file:{key}"
    )
    assert code == 0, err
    assert f"witnessed {ORIGIN} at size 4" in out
    assert f"cosigned by {WITNESS} at " in out
    assert f"witness vkey: {wvkey}" in out
    assert "and committed it" in out
    head = subprocess.run(["git", "log", "-1", "--format=%s"], capture_output=True, text=True)
    assert head.stdout.strip() == f"audit witness: {ORIGIN} at size 4, cosigned by {WITNESS}"
    assert WITNESS_FILE.read_bytes().count(f"— {WITNESS} ".encode()) == 1

    # the cosignature is in the committed file, not in the store yet: the quorum is not met
    code, _out, err = _run(capsys, "audit", "verify", *store, "--policy", "p.policy")
    assert code == 1
    assert "witness CI has not cosigned" in err

    code, out, err = _run(capsys, "audit", "cosign", str(WITNESS_FILE), "--policy", "p.policy")
    assert code == 0, err
    assert f"with 1 new cosignature(s): {WITNESS} (at " in out
    code, out, err = _run(capsys, "audit", "verify", *store, "--policy", "p.policy")
    assert code == 0, err
    assert "cosigned by CI; quorum CI met under policy p.policy (from --policy)" in out
    # fsck still accepts every stored checkpoint, and the publisher keeps the cosignature
    assert main(["audit", "fsck"]) == 0
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    assert _run(capsys, "audit", "verify", *store, "--policy", "p.policy")[0] == 0
    # cosigning the same file again writes nothing
    code, out, _err = _run(capsys, "audit", "cosign", str(WITNESS_FILE), "--witness-vkey", wvkey)
    assert code == 0
    assert "already holds every cosignature" in out
    # the log grows: the newest checkpoint is not cosigned yet, so verify stands on the one
    # cosigned before and names the entry after it; the old file is still accepted (its
    # checkpoint already holds that cosignature)
    _append(monkeypatch, 1)
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    code, out, err = _run(capsys, "audit", "verify", *store, "--policy", "p.policy")
    assert code == 0, err
    assert (
        f"checkpoint of {ORIGIN} at size 4 signed by the log; cosigned by CI; quorum CI met" in out
    )
    assert "1 entry after it (4..4) is not yet witnessed (the newest checkpoint, at size 5" in out
    assert "witness CI has not cosigned" in out
    code, out, err = _run(capsys, "audit", "cosign", str(WITNESS_FILE), "--policy", "p.policy")
    assert code == 0, err
    assert "already holds every cosignature" in out
    # witness and cosign again (the key from the environment, as in CI): met again
    monkeypatch.setenv("MONDAY_WITNESS_KEY", key.read_text())
    code, _out, err = _run(capsys, "audit", "witness", "--key", "env:MONDAY_WITNESS_KEY")
    assert code == 0, err
    code, _out, err = _run(
        capsys, "audit", "cosign", str(WITNESS_FILE), "--policy", "p.policy", "--format", "json"
    )
    assert code == 0, err
    assert [a["name"] for a in json.loads(_out)["added"]] == [WITNESS]
    assert _run(capsys, "audit", "verify", *store, "--policy", "p.policy")[0] == 0


def test_cosign_refuses_what_it_cannot_verify(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mondaytest.audit.note import CosignatureSigner, add_signatures

    vkey = _log_with_checkpoint(capsys, monkeypatch)
    wvkey = _witness_keygen(capsys)
    assert main(["audit", "witness", "--no-git", "--key", "file:.monday/keys/witness.key"]) == 0
    stranger = CosignatureSigner.generate("stranger.example/w")
    Path("both.checkpoint").write_bytes(add_signatures(WITNESS_FILE.read_bytes(), [stranger]))
    db = Path(".monday/audit.db")
    before = db.read_bytes()
    code, _out, err = _run(capsys, "audit", "cosign", "both.checkpoint", "--witness-vkey", wvkey)
    assert code == 1
    assert "the signature by stranger.example/w (" in err
    assert "is from a key that is not trusted (--witness-vkey); nothing was stored" in err
    # a cosignature by the witness the policy does not list is refused the same way
    Path("p.policy").write_text(f"log {vkey}\nquorum none\n", encoding="utf-8")
    code, _out, err = _run(capsys, "audit", "cosign", str(WITNESS_FILE), "--policy", "p.policy")
    assert code == 2  # the policy lists no witness at all
    assert "no witness key to check the cosignatures against" in err
    Path("p.policy").write_text(
        f"log {vkey}\nwitness X {stranger.vkey}\nquorum X\n", encoding="utf-8"
    )
    code, _out, err = _run(capsys, "audit", "cosign", str(WITNESS_FILE), "--policy", "p.policy")
    assert code == 1
    assert f"the signature by {WITNESS} (" in err
    assert "not trusted (policy p.policy (from --policy))" in err
    # user errors: a log vkey given as a witness key, a file that is no checkpoint
    code, _out, err = _run(capsys, "audit", "cosign", str(WITNESS_FILE), "--witness-vkey", vkey)
    assert code == 2
    assert "not a witness key (cosignature/v1, type 0x04)" in err
    Path("junk").write_text("hello\n")
    code, _out, err = _run(capsys, "audit", "cosign", "junk", "--witness-vkey", wvkey)
    assert code == 2
    assert "junk is not a checkpoint note" in err
    code, _out, err = _run(capsys, "audit", "cosign", "missing", "--witness-vkey", wvkey)
    assert code == 2
    assert "cannot read checkpoint note missing" in err
    assert db.read_bytes() == before  # nothing was stored by any of these
    assert "Traceback" not in err


def test_witness_keygen_and_key_errors(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _log_with_checkpoint(capsys, monkeypatch)
    code, _out, err = _run(capsys, "audit", "keygen", "--name", WITNESS)
    assert code == 2
    assert "--name names a witness key; add --witness" in err
    code, _out, err = _run(capsys, "audit", "keygen", "--witness")
    assert code == 2
    assert "--witness needs --name" in err
    # an existing witness key is kept; one of another name is not replaced silently
    first = _witness_keygen(capsys)
    assert _witness_keygen(capsys) == first
    code, _out, err = _run(capsys, "audit", "keygen", "--witness", "--name", "other.example/w")
    assert code == 2
    assert "is named 'ci.example.com/witness', not 'other.example/w'" in err
    # the log key is not a witness key, for keygen nor for witness --key
    code, _out, err = _run(
        capsys, "audit", "keygen", "--witness", "--name", WITNESS, "--out", ".monday/keys/audit.key"
    )
    assert code == 2
    assert "holds a log signing key" in err
    code, _out, err = _run(capsys, "audit", "witness", "--key", "file:.monday/keys/audit.key")
    assert code == 2
    assert "not a witness key (cosignature/v1, type 0x04)" in err
    assert not WITNESS_FILE.exists()
    code, _out, err = _run(capsys, "audit", "witness", "--key", "env:NO_SUCH_WITNESS_KEY")
    assert code == 2
    assert "environment variable NO_SUCH_WITNESS_KEY is not set" in err
    code, _out, err = _run(capsys, "audit", "witness", "--key", "file:nope.key")
    assert code == 2
    assert "witness key file" in err
    assert "monday audit keygen --witness" in err


def test_witness_keygen_outside_a_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _out, err = _run(capsys, "audit", "keygen", "--witness", "--name", WITNESS)
    assert code == 2
    assert "needs --out FILE outside a governed project" in err
    code, out, _err = _run(
        capsys, "audit", "keygen", "--witness", "--name", WITNESS, "--out", "w.key"
    )
    assert code == 0
    assert out.startswith(f"{WITNESS}+")
    assert (tmp_path / "w.key").read_text().startswith(f"PRIVATE+KEY+{WITNESS}+")


# --- 3: the contract's policy is applied by verify ---------------------------------------------


def test_verify_applies_the_contracts_witness_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(tmp_path, monkeypatch, WITH_POLICY)
    vkey = _log_with_checkpoint(capsys, monkeypatch)
    wvkey = _witness_keygen(capsys)
    # the contract names a policy file that is not there: exit 2, saying where it is named
    code, _out, err = _run(capsys, "audit", "verify")
    assert code == 2
    assert "trust/audit.policy" in err
    assert "cannot read policy file" in err
    assert "audit.witness.policy in monday.yaml names this file" in err
    Path("trust").mkdir()
    Path("trust/audit.policy").write_text(
        f"log {vkey}\nwitness CI {wvkey}\nquorum CI\n", encoding="utf-8"
    )
    # applied by default: the quorum is not met until the cosignature is stored
    code, _out, err = _run(capsys, "audit", "verify")
    assert code == 1
    assert (
        "applying the witness policy trust/audit.policy (from audit.witness.policy in "
        "monday.yaml)" in err
    )
    assert "witness quorum CI of trust/audit.policy is not met" in err
    assert main(["audit", "receipt", "1", "-o", "r.tlog-proof"]) == 0
    assert _run(capsys, "audit", "verify", "r.tlog-proof")[0] == 1
    assert main(["audit", "export", "--tiles", "tiles"]) == 0
    assert _run(capsys, "audit", "verify", "--tiles", "tiles")[0] == 1
    # an explicit --policy wins, and --no-policy skips it
    Path("none.policy").write_text(f"log {vkey}\nquorum none\n", encoding="utf-8")
    code, out, err = _run(capsys, "audit", "verify", "--policy", "none.policy")
    assert code == 0, err
    assert "quorum none met under policy none.policy (from --policy)" in out
    assert "applying" not in err
    code, out, err = _run(capsys, "audit", "verify", "--no-policy")
    assert code == 0, err
    assert "quorum" not in out
    code, _out, err = _run(capsys, "audit", "verify", "--no-policy", "--policy", "none.policy")
    assert code == 2
    # the contract's witness (no --policy needed for cosign either) cosigns: met everywhere
    assert main(["audit", "witness", "--key", "file:.monday/keys/witness.key"]) == 0
    code, _out, err = _run(capsys, "audit", "cosign", str(WITNESS_FILE))
    assert code == 0, err
    code, out, err = _run(capsys, "audit", "verify", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["policy_file"] == "trust/audit.policy"
    assert report["policy_from"] == "audit.witness.policy in monday.yaml"
    assert "quorum CI met" in report["policy"]
    assert main(["audit", "receipt", "1", "-o", "r2.tlog-proof"]) == 0
    code, out, _err = _run(capsys, "audit", "verify", "r2.tlog-proof")
    assert code == 0
    assert "quorum CI met under policy trust/audit.policy" in out
    assert main(["audit", "export", "--tiles", "tiles"]) == 0
    assert _run(capsys, "audit", "verify", "--tiles", "tiles")[0] == 0
    # offline, with --vkey and --store but inside the project, the policy still applies
    code, out, _err = _run(
        capsys, "audit", "verify", "--vkey", vkey, "--store", "sqlite:///.monday/audit.db"
    )
    assert code == 0
    assert "quorum CI met under policy trust/audit.policy" in out


def test_verify_outside_a_project_applies_no_policy(
    proj: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey = _log_with_checkpoint(capsys, monkeypatch)
    db = proj.parent / ".monday" / "audit.db"
    elsewhere = tmp_path / "auditor"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = _run(capsys, "audit", "verify", "--vkey", vkey, "--store", str(db))
    assert code == 0, err
    assert "quorum" not in out
    assert "applying" not in err


# --- 4: a store that does not exist is never created -----------------------------------------


def test_read_only_commands_refuse_a_missing_store_and_create_nothing(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey = _run(capsys, "audit", "keygen")[1]
    wvkey = _witness_keygen(capsys)
    Path("a.checkpoint").write_text("x\n")
    missing = Path("missing.db")
    default = Path(".monday/audit.db")  # audit.store of the contract; no entry written yet
    offline = ["--vkey", vkey, "--store", str(missing)]
    for args, where in [
        (["audit", "verify", *offline], "--store"),
        (["audit", "verify", "--policy", "x.policy", "--store", str(missing)], None),
        (["audit", "fsck", *offline], "--store"),
        (["audit", "consistency", "a.checkpoint", "a.checkpoint", *offline], "--store"),
        (["audit", "witness", "--no-git", *offline[2:]], "--store"),
        (["audit", "cosign", "a.checkpoint", "--witness-vkey", wvkey, *offline], "--store"),
        (["audit", "verify"], "audit.store in monday.yaml"),
        (["audit", "fsck"], "audit.store in monday.yaml"),
        (["audit", "log"], "audit.store in monday.yaml"),
        (["audit", "receipt", "0"], "audit.store in monday.yaml"),
        (["audit", "export", "--tiles", "tiles"], "audit.store in monday.yaml"),
        (["audit", "backup", "copy.db"], "audit.store in monday.yaml"),
        (["audit", "witness", "--no-git"], "audit.store in monday.yaml"),
    ]:
        if args[2:4] == ["--policy", "x.policy"]:
            Path("x.policy").write_text(f"log {vkey}\nquorum none\n", encoding="utf-8")
        code, _out, err = _run(capsys, *args)
        assert code == 2, (args, err)
        assert "there is no store at" in err, args
        if where is not None:
            assert f"(from {where})" in err, (args, err)
        assert "Traceback" not in err
        assert not missing.exists(), args
        assert not default.exists(), args
        assert not Path("copy.db").exists()
        assert not Path("tiles").exists()
    # MONDAY_DATABASE_URL is named when it is where the path came from
    monkeypatch.setenv("MONDAY_DATABASE_URL", "sqlite:///elsewhere/audit.db")
    code, _out, err = _run(capsys, "audit", "log")
    assert code == 2
    assert "(from MONDAY_DATABASE_URL)" in err
    assert not Path("elsewhere").exists()
    # a folder is not a store either
    monkeypatch.delenv("MONDAY_DATABASE_URL")
    code, _out, err = _run(capsys, "audit", "fsck", "--vkey", vkey, "--store", "trust")
    assert code == 2
    Path("trust").mkdir()
    code, _out, err = _run(capsys, "audit", "fsck", "--vkey", vkey, "--store", "trust")
    assert code == 2
    assert "is a directory, not an audit store" in err
    # writers still create the store on their first write
    _append(monkeypatch, 1)
    assert default.is_file()
    assert main(["audit", "log"]) == 0


# --- the witness commit ----------------------------------------------------------------------


def _no_git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """No identity anywhere: no global or system git config, no identity variables."""
    for var in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_witness_commit_needs_a_git_identity(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _log_with_checkpoint(capsys, monkeypatch)
    _no_git_identity(monkeypatch)
    code, out, err = _run(capsys, "audit", "witness", "--commit", ".monday-witness")
    assert code == 2
    assert "cannot commit the witnessed checkpoint in .monday-witness: git has no author " in err
    assert "identity configured" in err
    assert "nothing was written" in err
    assert 'config user.name "NAME"' in err
    assert "--no-git" in err
    assert "Traceback" not in err
    assert "witnessed" not in out
    assert not WITNESS_FILE.exists()
    # the file alone, without a commit, needs no identity
    code, out, err = _run(capsys, "audit", "witness", "--no-git")
    assert code == 0, err
    assert "committed" not in out
    WITNESS_FILE.unlink()
    # with an identity configured in the repository, the file is committed as that identity
    _git("config", "user.name", "Witness Bot")
    _git("config", "user.email", "witness@example.com")
    code, out, err = _run(capsys, "audit", "witness", "--commit", ".monday-witness")
    assert code == 0, err
    assert "and committed it" in out
    assert _git("log", "-1", "--format=%an <%ae>|%cn <%ce>|%s") == (
        f"Witness Bot <witness@example.com>|Witness Bot <witness@example.com>|"
        f"audit witness: {ORIGIN} at size 4"
    )
    assert _git("show", "--name-only", "--format=", "HEAD") == str(WITNESS_FILE)
    assert _git("status", "--porcelain", "--", str(WITNESS_FILE)) == ""


def test_the_witness_refuses_a_directory_git_ignores(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _log_with_checkpoint(capsys, monkeypatch)
    Path(".gitignore").write_text(".monday/\nwitness-out/\n")
    code, _out, err = _run(capsys, "audit", "witness", "--commit", "witness-out")
    assert code == 2
    assert "is ignored by git" in err
    assert "nothing was written" in err
    assert not Path("witness-out").exists()
    # outside a git work tree the file is written, not committed, as before
    outside = proj.parent.parent / "elsewhere"
    code, out, err = _run(capsys, "audit", "witness", "--commit", str(outside))
    assert code == 0, err
    assert "committed" not in out
    assert (outside / WITNESS_FILE.name).is_file()


# --- the scaffolded workflow -------------------------------------------------------------------

BOT = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


def _workflow(tmp_path: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML

    assert main(["init", str(tmp_path / "scaffold")]) == 0
    text = (tmp_path / "scaffold" / ".github" / "workflows" / "monday.yml").read_text()
    data = YAML(typ="safe").load(text)
    assert isinstance(data, dict)
    return data


def _witness_step(workflow: dict[str, Any]) -> dict[str, Any]:
    steps = workflow["jobs"]["monday"]["steps"]
    found = [s for s in steps if "monday audit witness" in s.get("run", "")]
    assert len(found) == 1
    step: dict[str, Any] = found[0]
    return step


def _step_env(step: dict[str, Any], tmp_path: Path, **secrets: str) -> dict[str, str]:
    """The step's environment as a runner would give it: ``secrets`` and ``github.ref_name``
    (main) filled in, nothing from this process's git or Monday configuration."""
    env = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    for name, value in step["env"].items():
        text = str(value)
        if text.startswith("${{ secrets."):
            text = secrets.get(text.removeprefix("${{ secrets.").removesuffix(" }}"), "")
        elif text == "${{ github.ref_name }}":
            text = "main"
        assert "${{" not in text, (name, text)
        env[name] = text
    return env


def _checkout(origin: Path, where: Path) -> Path:
    """What actions/checkout leaves: a clone of ``origin`` on its main branch."""
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True)
    return where


def _origin(tmp_path: Path) -> tuple[Path, Path]:
    """A bare ``origin.git`` and a developer clone ``dev`` with one commit pushed to main."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    dev = tmp_path / "dev"
    subprocess.run(["git", "init", "-q", "-b", "main", str(dev)], check=True)
    _git("remote", "add", "origin", str(origin), cwd=dev)
    return origin, dev


def test_the_workflow_witnesses_pushes_to_the_default_branch_and_pushes_its_commit(
    tmp_path: Path,
) -> None:
    workflow = _workflow(tmp_path)
    job = workflow["jobs"]["monday"]
    assert job["permissions"]["contents"] == "write"
    assert workflow.get("permissions", {}).get("contents") != "write"  # the job's, not all jobs'
    step = _witness_step(workflow)
    condition = " ".join(step["if"].split())
    assert condition == (
        "github.event_name == 'push' && "
        "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
    )
    assert "pull_request" not in condition
    env = step["env"]
    assert (env["GIT_AUTHOR_NAME"], env["GIT_COMMITTER_NAME"]) == (BOT, BOT)
    assert (env["GIT_AUTHOR_EMAIL"], env["GIT_COMMITTER_EMAIL"]) == (BOT_EMAIL, BOT_EMAIL)
    assert env["BRANCH"] == "${{ github.ref_name }}"
    assert env["MONDAY_WITNESS_KEY"] == "${{ secrets.MONDAY_WITNESS_KEY }}"
    run = step["run"]
    assert 'git push origin "HEAD:refs/heads/$BRANCH"' in run
    assert 'git pull --rebase --autostash origin "$BRANCH"' in run
    assert run.index("monday audit witness") < run.index("git push")
    steps = job["steps"]
    assert steps.index(step) > next(
        i for i, s in enumerate(steps) if "monday eval gate --all $replay" in s.get("run", "")
    )
    # no other step writes to the repository
    assert [s for s in steps if "git push" in s.get("run", "")] == [step]


def test_the_workflow_cosigns_only_when_the_witness_secret_is_set(tmp_path: Path) -> None:
    import typer

    from mondaytest.cli.audit import app as audit_app

    step = _witness_step(_workflow(tmp_path))
    command = typer.main.get_command(audit_app).commands["witness"]  # type: ignore[attr-defined]
    known = {opt for p in command.params for opt in p.opts}
    assert {"--commit", "--key"} <= known
    # run the step's script with a stand-in `monday` that records its arguments
    origin, dev = _origin(tmp_path)
    Path(dev / "README").write_text("x\n")
    _git("add", "README", cwd=dev)
    _git("-c", "user.name=d", "-c", "user.email=d@example.com", "commit", "-qm", "x", cwd=dev)
    _git("push", "-q", "origin", "main", cwd=dev)
    ci = _checkout(origin, tmp_path / "ci")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "args"
    fake = bin_dir / "monday"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {record}\n')
    fake.chmod(0o755)
    for secret in ("", "PRIVATE+KEY+ci.example.com/witness+00000000+AAAA"):
        env = _step_env(step, tmp_path, MONDAY_WITNESS_KEY=secret)
        subprocess.run(["bash", "-e", "-c", step["run"]], cwd=ci, env=env, check=True)
    assert record.read_text().splitlines() == [
        "audit witness --commit .monday-witness",
        "audit witness --commit .monday-witness --key env:MONDAY_WITNESS_KEY",
    ]


def test_the_workflow_keeps_the_witness_state_between_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run the workflow's witness step for real, as successive CI runs on fresh checkouts: the
    witnessed checkpoint reaches the remote, survives a race with another run, and the next run
    refuses a store whose history was rewritten."""
    import sys

    step = _witness_step(_workflow(tmp_path))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "monday").write_text(
        f'#!/bin/sh\nexec {sys.executable} -m mondaytest.cli.app "$@"\n'
    )
    (bin_dir / "monday").chmod(0o755)
    origin, dev = _origin(tmp_path)
    _project(dev, monkeypatch)  # the developer's clone is the current directory
    Path(".gitignore").write_text(".monday/\n")
    _log_with_checkpoint(capsys, monkeypatch)  # 4 entries; keygen records audit.vkey
    _git("add", "-A")
    _git("commit", "-qm", "governed")
    _git("push", "-q", "origin", "main")
    store = f"sqlite:///{dev / '.monday' / 'audit.db'}"
    runs = iter(range(1, 100))

    def ci_run(ci: Path | None = None) -> subprocess.CompletedProcess[str]:
        where = ci or _checkout(origin, tmp_path / f"run{next(runs)}")
        env = _step_env(step, tmp_path, MONDAY_DATABASE_URL=store)
        return subprocess.run(
            ["bash", "-e", "-c", step["run"]], cwd=where, env=env, capture_output=True, text=True
        )

    def remote(fmt: str) -> str:
        return _git("--git-dir", str(origin), "log", "-1", f"--format={fmt}", "main")

    def remote_witness() -> str:
        return _git("--git-dir", str(origin), "show", f"main:{WITNESS_FILE}")

    # run 1: the witnessed checkpoint is committed by the bot and pushed
    done = ci_run()
    assert done.returncode == 0, done.stderr
    assert remote("%an <%ae>|%cn|%s") == (
        f"{BOT} <{BOT_EMAIL}>|{BOT}|audit witness: {ORIGIN} at size 4"
    )
    assert "\n4\n" in remote_witness()

    # run 2 raced by a developer's push: the witness commit is rebased onto it and pushed
    _append(monkeypatch, 2)
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    behind = _checkout(origin, tmp_path / "behind")
    _git("pull", "-q", "origin", "main")
    Path("NOTES").write_text("a developer's change\n")
    _git("add", "NOTES")
    _git("commit", "-qm", "notes")
    _git("push", "-q", "origin", "main")
    done = ci_run(ci=behind)
    assert done.returncode == 0, done.stderr
    assert "[rejected]" in done.stderr  # the first push lost the race
    assert "CONFLICT" not in done.stdout
    assert remote("%s") == f"audit witness: {ORIGIN} at size 6"
    assert _git("--git-dir", str(origin), "log", "-2", "--format=%s", "main").splitlines()[1] == (
        "notes"
    )

    # runs 3 and 4 check out the same commit; 4 pushes last, after 3 committed the witness file
    a = _checkout(origin, tmp_path / "a")
    b = _checkout(origin, tmp_path / "b")
    _append(monkeypatch, 1)
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    assert ci_run(ci=a).returncode == 0
    _append(monkeypatch, 1)
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    done = ci_run(ci=b)
    assert done.returncode == 0, done.stderr
    assert "[rejected]" in done.stderr
    assert "CONFLICT" in done.stdout  # both committed the witness file: witnessed again
    log = _git("--git-dir", str(origin), "log", "-3", "--format=%s", "main").splitlines()
    assert log[:2] == [
        f"audit witness: {ORIGIN} at size 8",
        f"audit witness: {ORIGIN} at size 7",
    ]
    assert "\n8\n" in remote_witness()

    # a store whose history was rewritten (same key, other entries, a bigger tree): the next
    # run, on a fresh checkout, fails and pushes nothing
    rewritten = tmp_path / "rewritten"
    rewritten.mkdir()
    _git("clone", "-q", str(origin), str(rewritten / "repo"))
    monkeypatch.chdir(rewritten / "repo")
    (rewritten / "repo" / ".monday").mkdir()
    (rewritten / "repo" / ".monday" / "keys").mkdir()
    key = rewritten / "repo" / ".monday" / "keys" / "audit.key"
    key.write_bytes((dev / ".monday" / "keys" / "audit.key").read_bytes())
    key.chmod(0o600)
    monkeypatch.setattr(
        "sys.stdin",
        io.TextIOWrapper(io.BytesIO(LINE.replace("triage", "other").encode() * 12)),
    )
    assert main(["audit", "append"]) == 0
    assert main(["audit", "checkpoint", "-o", "/dev/null"]) == 0
    store = f"sqlite:///{rewritten / 'repo' / '.monday' / 'audit.db'}"
    before = remote("%H")
    done = ci_run()
    assert done.returncode == 1
    assert "the log is not an extension of the witnessed checkpoint (size 8)" in " ".join(
        done.stderr.split()
    )
    assert remote("%H") == before


def test_a_broken_contract_is_named_and_no_policy_skips_it(
    proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey = _log_with_checkpoint(capsys, monkeypatch)
    assert main(["audit", "receipt", "1", "-o", "r.tlog-proof"]) == 0
    proj.write_text(proj.read_text().replace("version: 1\n", "version: 1\nbogus: 1\n"))
    code, _out, err = _run(capsys, "audit", "verify", "r.tlog-proof", "--vkey", vkey)
    assert code == 2
    assert "does not load, so its audit.witness.policy cannot be applied" in err
    assert "--no-policy" in err
    code, out, err = _run(capsys, "audit", "verify", "r.tlog-proof", "--vkey", vkey, "--no-policy")
    assert code == 0, err
    assert "✓ entry 1" in out
