"""``monday audit keygen``: make the log key, keep it out of git, record its vkey in the contract.

``--witness --name NAME`` makes a witness key instead (``cosignature/v1``, type 0x04, named
after the witness, not the log): ``monday audit witness --key`` cosigns with it, and its vkey
goes on a ``witness`` line of a trust policy.

The vkey is written into ``monday.yaml`` as one inserted (or replaced) line under ``audit:``,
found with ruamel.yaml's round-trip positions, so every other byte of the file — comments,
quoting, indentation — stays as the person wrote it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from mondaytest._util.files import write_atomic
from mondaytest._util.git import run_git
from mondaytest.audit.keys import (
    check_signer_matches,
    generate_key_file,
    generate_witness_key_file,
    load_signer,
    load_witness_signer,
    parse_key_ref,
)
from mondaytest.errors import ConfigError, InputError

__all__ = [
    "WITNESS_KEY_FILE",
    "KeygenResult",
    "ensure_gitignored",
    "keygen",
    "record_vkey",
    "refuse_tracked_key",
    "vault_keygen",
    "witness_keygen",
]

WITNESS_KEY_FILE = ".monday/keys/witness.key"
"""Where ``keygen --witness`` writes inside a governed project (relative to monday.yaml)."""


@dataclass(frozen=True)
class KeygenResult:
    """What :func:`keygen` did."""

    vkey: str
    """The verifier key (public)."""
    key_path: Path
    """Where the private key is."""
    created: bool
    """False when an existing key was reused."""
    recorded: bool
    """True when the vkey was written into the contract."""
    ignored_by: str | None
    """How the key file is kept out of git (``.gitignore`` rule), None outside a repository."""


def keygen(
    *,
    origin: str,
    key_ref: str,
    base_dir: Path,
    spec_path: Path | None,
    recorded_vkey: str | None,
    force: bool = False,
) -> KeygenResult:
    """Create (or reuse) the key of ``origin`` and record its vkey in ``spec_path``."""
    ref = parse_key_ref(key_ref, base_dir)
    if ref.kind != "file":
        raise InputError(
            f"audit.key is {key_ref}; keygen writes key files",
            hint="run `monday audit keygen --out FILE`, then put the file's content in "
            f"${ref.target}",
        )
    path = Path(ref.target)
    if recorded_vkey is not None and not path.exists() and not force:
        # a fresh clone: the key is git-ignored, the vkey is in the contract. A new key here
        # would not match the log it signs for.
        raise InputError(
            f"the contract records the log's key ({recorded_vkey.split('+')[1]}…), but its "
            f"private key file {path} is missing; a new key would not match the log",
            hint="restore the key file from where you keep secrets; to change the log's key, "
            "use `monday audit rotate-key` (--force makes a new key anyway: right only for a "
            "log with no entries, an existing log would no longer verify)",
            field="audit.key",
        )
    signer, created = _reuse_or_create(
        path,
        origin,
        force,
        load=lambda p: load_signer(f"file:{p}"),
        generate=generate_key_file,
        what=("key", "the origin "),
    )
    vkey = signer.vkey
    recorded = False
    if spec_path is not None:
        if recorded_vkey is not None and recorded_vkey != vkey and not created:
            check_signer_matches(signer, recorded_vkey)
        if recorded_vkey != vkey:
            record_vkey(spec_path, vkey)
            recorded = True
    return KeygenResult(
        vkey=vkey,
        key_path=path,
        created=created,
        recorded=recorded,
        ignored_by=ensure_gitignored(path),
    )


def witness_keygen(
    *, name: str, out: Path | None, spec: Path | None = None, force: bool = False
) -> KeygenResult:
    """Create (or reuse) a witness key named ``name`` at ``out``.

    Without ``out`` the key goes to ``.monday/keys/witness.key`` beside the contract. An
    existing key file is reused only when it is a witness key of that name.
    """
    if out is None:
        from mondaytest.spec import find_spec, load_spec

        try:
            find_spec(spec)
        except ConfigError:
            raise InputError(
                "keygen --witness needs --out FILE outside a governed project",
                hint="e.g. monday audit keygen --witness --name ci.example.com/witness "
                "--out witness.key",
            ) from None
        out = load_spec(spec).root_dir / WITNESS_KEY_FILE
    signer, created = _reuse_or_create(
        out,
        name,
        force,
        load=lambda p: load_witness_signer(f"file:{p.resolve()}"),
        generate=generate_witness_key_file,
        what=("witness key", ""),
    )
    return KeygenResult(
        vkey=signer.vkey,
        key_path=out,
        created=created,
        recorded=False,
        ignored_by=ensure_gitignored(out),
    )


class _NamedSigner(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def vkey(self) -> str: ...


_S = TypeVar("_S", bound=_NamedSigner)


def _reuse_or_create(
    path: Path,
    name: str,
    force: bool,
    *,
    load: Callable[[Path], _S],
    generate: Callable[..., _S],
    what: tuple[str, str],
) -> tuple[_S, bool]:
    """The key at ``path`` if it exists and is named ``name`` (unless ``force``), else a new
    one written there; and whether it was created. A file git tracks is refused first."""
    refuse_tracked_key(path)
    if path.exists() and not force:
        signer = load(path)
        if signer.name != name:
            kind, label = what
            raise ConfigError(
                f"the existing {kind} {path} is named {signer.name!r}, not {label}{name!r}",
                hint="move it away, or pass --force to replace it",
            )
        return signer, False
    return generate(path, name, overwrite=force), True


def refuse_tracked_key(path: Path) -> None:
    """Raise :class:`ConfigError` when git already tracks the key file ``path``: a
    ``.gitignore`` rule does not untrack it, so the next commit would publish the key."""
    directory = path.resolve().parent
    while not directory.is_dir() and directory != directory.parent:
        directory = directory.parent  # its folder may not exist yet, or was deleted
    top = run_git(directory, "rev-parse", "--show-toplevel")
    if top is None or top.returncode != 0:
        return
    root = Path(top.stdout.strip())
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return  # outside this repository
    tracked = run_git(root, "ls-files", "--error-unmatch", "--", rel)
    if tracked is not None and tracked.returncode == 0:
        raise ConfigError(
            f"git tracks the private key file {path}: it is in the index, and maybe in history",
            hint=f"run `git rm --cached {rel}` and commit; if it was ever committed or pushed, "
            "treat the key as leaked and rotate it (`monday audit rotate-key`)",
        )


def ensure_gitignored(path: Path) -> str | None:
    """Make sure git ignores ``path`` and its rotation files (``path.*``).

    Adds rules for the file itself and ``<file>.*`` (``.next``, ``.retired-*``) to the
    repository's ``.gitignore`` when they are not ignored yet, then confirms with
    ``git check-ignore``. Returns the rule that ignores the key, or None outside a git
    repository; raises :class:`ConfigError` if the key is still not ignored.
    """
    refuse_tracked_key(path)
    directory = path.parent
    top = run_git(directory, "rev-parse", "--show-toplevel")
    if top is None or top.returncode != 0:
        return None
    root = Path(top.stdout.strip())
    rotation_probe = path.with_name(path.name + ".next")
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    wanted = [
        (path, f"/{_gitignore_escape(rel)}"),
        (rotation_probe, f"/{_gitignore_escape(rel)}.*"),
    ]
    missing = [rule for probe, rule in wanted if _ignoring_rule(directory, probe) is None]
    if missing:
        gitignore = root / ".gitignore"
        try:
            text = gitignore.read_text("utf-8") if gitignore.exists() else ""
            if text and not text.endswith("\n"):
                text += "\n"
            body = "".join(f"{rule}\n" for rule in missing)
            gitignore.write_text(
                text + f"# Monday: private signing keys, never commit them\n{body}", "utf-8"
            )
        except OSError as exc:
            raise InputError(
                f"cannot write {gitignore}: {exc.strerror}",
                hint=f"add `/{rel}` and `/{rel}.*` to .gitignore by hand",
            ) from None
    rule = _ignoring_rule(directory, path)
    if rule is None or _ignoring_rule(directory, rotation_probe) is None:
        raise ConfigError(
            f"git does not ignore the private key {path} (or its rotation files {path.name}.*) "
            "even after adding rules to .gitignore",
            hint="a later `!` rule in a .gitignore probably re-includes it; fix that before "
            "committing anything, and never commit the key",
        )
    return rule


def _ignoring_rule(directory: Path, path: Path) -> str | None:
    """The ``source:line:pattern`` that makes git ignore ``path``, or None if nothing does."""
    check = run_git(directory, "check-ignore", "-v", "--no-index", str(path))
    if check is None or check.returncode != 0 or not check.stdout.strip():
        return None
    rule = check.stdout.split("\t")[0].strip()
    if rule.split(":", 2)[-1].startswith("!"):
        return None  # with -v, git also reports a `!` rule that re-includes the path
    return rule


def _gitignore_escape(rel: str) -> str:
    """``rel`` as a literal gitignore pattern (wildcards, ``!``, ``#``, trailing blanks escaped)."""
    out = "".join("\\" + ch if ch in "\\*?[]!#" else ch for ch in rel)
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def record_vkey(spec_path: Path, vkey: str) -> None:
    """Set ``audit.vkey`` in the contract file, changing only that one line."""
    from ruamel.yaml.comments import CommentedMap

    from mondaytest.spec.yamlfile import round_trip_yaml

    with spec_path.open("r", encoding="utf-8", newline="") as fh:  # keep CRLF line ends as they are
        text = fh.read()
    doc = round_trip_yaml().load(text)
    audit = doc.get("audit") if isinstance(doc, CommentedMap) else None
    if not isinstance(audit, CommentedMap):
        raise ConfigError(
            f"{spec_path} has no audit section to record the vkey in",
            hint=f"add `vkey: {vkey}` under audit: by hand",
            field="audit",
        )
    if audit.fa.flow_style():
        raise ConfigError(
            f"the audit section of {spec_path} is written inline ({{…}})",
            hint=f"add `vkey: {vkey}` to it by hand",
            field="audit.vkey",
        )
    lines = text.splitlines(keepends=True)
    if "vkey" in audit:
        line_no, col = audit.lc.key("vkey")
        old = lines[line_no]
        comment = ""
        hash_pos = old.find(" #", col)
        if hash_pos >= 0:
            comment = old[hash_pos:].rstrip("\n")
        eol = "\r\n" if old.endswith("\r\n") else "\n"
        lines[line_no] = f"{old[:col]}vkey: {vkey}{comment}{eol}"
    else:
        keys = list(audit.keys())
        anchor = "key" if "key" in audit else keys[-1]
        line_no, col = audit.lc.key(anchor)
        value = audit[anchor]
        end = line_no
        if hasattr(value, "lc"):  # a nested block: insert after its last line
            end = _last_line(value)
        eol = "\r\n" if lines[end].endswith("\r\n") else "\n"
        lines.insert(end + 1, " " * col + f"vkey: {vkey}{eol}")
    new_text = "".join(lines)
    check = round_trip_yaml().load(new_text)
    if check.get("audit", {}).get("vkey") != vkey:  # pragma: no cover - defensive
        raise ConfigError(f"could not record the vkey in {spec_path}", field="audit.vkey")
    write_atomic(spec_path, new_text.encode("utf-8"), hint="check that monday.yaml is writable")


def _last_line(node: object) -> int:
    """The last line (0-based) a ruamel block node spans."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    last = node.lc.line  # type: ignore[attr-defined]
    if isinstance(node, CommentedMap):
        for key in node:
            line, _ = node.lc.key(key)
            last = max(last, line, _last_line(node[key]) if hasattr(node[key], "lc") else line)
    elif isinstance(node, CommentedSeq):
        for i, item in enumerate(node):
            line, _ = node.lc.item(i)
            last = max(last, line, _last_line(item) if hasattr(item, "lc") else line)
    return int(last)


def vault_keygen(spec: Path | None, out: Path | None) -> Path:
    """Write a vault master key: to ``out``, or where the contract's ``audit.vault_key`` says."""
    from mondaytest.audit.vault import write_master_key

    if out is None:
        from mondaytest.spec import load_spec

        loaded = load_spec(spec)
        ref = parse_key_ref(loaded.model.audit.vault_key, loaded.root_dir)
        if ref.kind != "file":
            raise InputError(
                f"audit.vault_key is {loaded.model.audit.vault_key}",
                hint="write one with `monday audit keygen --vault --out FILE` and put it in "
                f"${ref.target}",
            )
        out = Path(ref.target)
    refuse_tracked_key(out)
    write_master_key(out)
    ensure_gitignored(out)
    return out
