"""``monday audit``: keygen, append, checkpoint, receipt, verify, consistency, fsck, export, log,
why, monitor, witness, cosign, erase, scrub, backup, retention.

Every command only parses its input, calls :mod:`mondaytest.audit` and renders. The store is
the contract's ``audit.store``, overridden by ``MONDAY_DATABASE_URL`` and then ``--store``;
commands that read a log refuse a store that does not exist (they never create one).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from mondaytest._util.files import read_at_most
from mondaytest.audit import AuditLog, LogConfig, open_log
from mondaytest.audit.entries import Entry, decode_entry
from mondaytest.audit.note import (
    PRIVATE_KEY_MISUSE,
    SIG_COSIGNATURE_V1,
    Ed25519Verifier,
    NoteError,
    NoteVerifier,
    parse_vkey,
)
from mondaytest.audit.opening import open_existing_log, open_existing_store, store_source
from mondaytest.audit.store import resolve_store_url
from mondaytest.cli import state
from mondaytest.cli.options import FormatOpt, SpecOpt, StoreOpt
from mondaytest.cli.state import OutputFormat
from mondaytest.errors import CheckFailed, ConfigError, InputError, MondayError, StoreError

if TYPE_CHECKING:
    from mondaytest.audit.checkpoint import Checkpoint
    from mondaytest.audit.monitor import MonitorReport
    from mondaytest.audit.policy import PolicyChoice
    from mondaytest.audit.why import Explanation

__all__ = ["app"]

app = typer.Typer(
    help="The signed audit log: keys, appends, checkpoints, receipts, verification.",
    no_args_is_help=True,
)

VkeyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--vkey",
        help="Trusted log key (C2SP vkey); repeatable. Default: audit.vkey of the contract.",
        show_default=False,
    ),
]
CheckpointOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--checkpoint",
        help="A checkpoint saved elsewhere to check the store against; repeatable.",
        show_default=False,
    ),
]


def _config(spec: Path | None, store: str | None) -> LogConfig:
    from mondaytest.spec import load_spec

    return LogConfig.from_spec(load_spec(spec), store=store)


def _open(spec: Path | None, store: str | None, *, readonly: bool = False) -> AuditLog:
    """The log, for a command that writes (the store is created on the first write)."""
    return open_log(_config(spec, store), readonly=readonly)


def _open_existing(spec: Path | None, store: str | None, *, readonly: bool = True) -> AuditLog:
    """The log, for a command that reads: a store that does not exist is refused (exit 2)."""
    return open_existing_log(_config(spec, store), readonly=readonly, source=store_source(store))


def _offline_config(
    spec: Path | None,
    store: str | None,
    vkeys: list[str] | None,
    *,
    offline_hint: str = "pass --spec, or verify offline with --vkey VKEY --store URL",
) -> LogConfig:
    """Config for verification: ``--vkey`` keys (their name is the origin) and ``--store``
    need no contract; otherwise the contract supplies what is missing. ``offline_hint`` says
    what to pass outside a governed project."""
    trusted = _parse_vkeys(vkeys) if vkeys else []
    if trusted and store is not None and spec is None:
        return LogConfig(
            origin=trusted[0].name,
            store_url=resolve_store_url(None, store),
            vkey=vkeys[0] if vkeys else None,
            extra_vkeys=tuple(vkeys[1:]) if vkeys else (),
        )
    try:
        config = _config(spec, store)
    except ConfigError as exc:
        if spec is None and exc.location is None:
            raise ConfigError(exc.message, hint=offline_hint) from None
        raise
    if vkeys:
        config = replace(config, vkey=vkeys[0], extra_vkeys=tuple(vkeys[1:]))
    if not config.vkey:
        raise InputError(
            "no trusted key to verify against",
            hint="pass --vkey, or record audit.vkey with `monday audit keygen`",
        )
    return config


def _policy_config(spec: Path | None, store: str | None, vkeys: list[str] | None) -> LogConfig:
    """Config for verifying a store under a policy: the policy names the log keys, so neither
    ``--vkey`` nor a contract vkey is needed; with ``--store`` alone the origin is the store's."""
    if vkeys:
        return _offline_config(spec, store, vkeys)
    if store is not None and spec is None:
        return _store_config(store)
    return _config(spec, store)


def _store_config(store: str) -> LogConfig:
    """Config from ``--store`` alone, no contract: the origin is the store's."""
    url = resolve_store_url(None, store)
    handle = open_existing_store(url, source="--store")
    try:
        origin = handle.origin()
    finally:
        handle.close()
    if origin is None:
        raise InputError(
            f"{store} holds no audit log",
            hint="pass --store the database `monday audit` writes (audit.store)",
        )
    return LogConfig(origin=origin, store_url=url)


def _parse_vkeys(vkeys: list[str]) -> list[Ed25519Verifier]:
    out: list[Ed25519Verifier] = []
    for number, text in enumerate(vkeys, 1):
        try:
            out.append(parse_vkey(text))
        except NoteError as exc:
            # The text is not echoed: it may be a private key pasted by mistake.
            which = "--vkey" if len(vkeys) == 1 else f"--vkey #{number}"
            raise _vkey_error(which, exc, "`monday audit keygen` printed (audit.vkey)") from None
    return out


def _vkey_error(which: str, exc: NoteError, printed: str) -> InputError:
    """A ``--vkey``/``--witness-vkey`` that does not parse. These options take the vkey text
    itself, so the core's advice for key *references* (``file:PATH`` / ``env:VAR``, which
    only key options accept) is replaced for a private key pasted by mistake."""
    if exc.message == PRIVATE_KEY_MISUSE:
        return InputError(
            f"{which}: this is a private key; pass its vkey (the public key text, "
            "name+keyid+base64) instead",
            hint=f"the vkey is what {printed}; the private key stays in its file",
        )
    return InputError(f"{which}: {exc.message}", hint=exc.hint)


_MAX_INPUT_BYTES = 1 << 20
"""Receipts, notes and checkpoints are at most 1 MiB (their parsers say so when larger)."""


def _read(path: Path, what: str) -> bytes:
    try:
        return read_at_most(path, _MAX_INPUT_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None


def _write_out(path: Path | None, data: bytes) -> None:
    if path is None or str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, sort_keys=True, ensure_ascii=False))


# --- keygen ---------------------------------------------------------------------------------


@app.command("keygen")
def keygen_cmd(
    spec: SpecOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the key here instead (no contract needed).", show_default=False
        ),
    ] = None,
    origin: Annotated[
        str | None,
        typer.Option(
            "--origin",
            help="Key name (the log origin) when there is no contract.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key file.")] = False,
    vault: Annotated[
        bool, typer.Option("--vault", help="Create the vault master key (audit.vault_key) instead.")
    ] = False,
    witness: Annotated[
        bool,
        typer.Option(
            "--witness",
            help="Create a witness key (cosignature/v1) named --name instead, for "
            "`monday audit witness --key`; default file .monday/keys/witness.key.",
        ),
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Name of the witness key (--witness), e.g. ci.example.com/witness.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create the log key (Ed25519, 0600, git-ignored); print its vkey, record it in monday.yaml."""
    from mondaytest.audit.keygen import keygen

    err = state.err_console()
    if witness or name is not None:
        _witness_keygen(witness, name, out, spec, force, vault, origin)
        return
    if vault:
        from mondaytest.audit.keygen import vault_keygen

        path = vault_keygen(spec, out)
        err.print(
            f"wrote the vault master key {path} (mode 0600); back it up apart from the store",
            markup=False,
        )
        return
    if out is not None:
        if origin is None:
            raise InputError("--out needs --origin (the log origin names the key)")
        result = keygen(
            origin=origin,
            key_ref=f"file:{out.resolve()}",
            base_dir=Path.cwd(),
            spec_path=None,
            recorded_vkey=None,
            force=force,
        )
    else:
        from mondaytest.spec import load_spec

        loaded = load_spec(spec)
        section = loaded.model.audit
        if origin is not None and origin != section.origin:
            raise InputError(
                f"--origin {origin!r} differs from audit.origin {section.origin!r}",
                hint="drop --origin inside a governed project",
            )
        result = keygen(
            origin=section.origin,
            key_ref=section.key,
            base_dir=loaded.root_dir,
            spec_path=loaded.path,
            recorded_vkey=section.vkey,
            force=force,
        )
        if result.recorded:
            err.print(f"recorded the vkey in {loaded.path.name} (audit.vkey)", markup=False)
    err.print(
        f"{'wrote' if result.created else 'kept the existing'} key {result.key_path} (mode 0600"
        + (f", ignored by git via {result.ignored_by})" if result.ignored_by else ")"),
        markup=False,
    )
    typer.echo(result.vkey)


def _witness_keygen(
    witness: bool,
    name: str | None,
    out: Path | None,
    spec: Path | None,
    force: bool,
    vault: bool,
    origin: str | None,
) -> None:
    from mondaytest.audit.keygen import witness_keygen

    if not witness:
        raise InputError(
            "--name names a witness key; add --witness",
            hint="a log key is named after the log: --origin (or audit.origin)",
        )
    if vault or origin is not None:
        raise InputError("--witness makes a witness key; drop --vault and --origin")
    if name is None:
        raise InputError(
            "--witness needs --name, the witness's own name",
            hint="e.g. --name ci.example.com/witness (not the log's origin)",
        )
    result = witness_keygen(name=name, out=out, spec=spec, force=force)
    err = state.err_console()
    err.print(
        f"{'wrote' if result.created else 'kept the existing'} witness key {result.key_path} "
        "(mode 0600" + (f", ignored by git via {result.ignored_by})" if result.ignored_by else ")"),
        markup=False,
    )
    err.print(
        f"list it in the trust policy as: witness NAME {result.vkey}\n"
        f"cosign with: monday audit witness --key file:{result.key_path} (in CI: put the file's "
        "content in the secret MONDAY_WITNESS_KEY)",
        markup=False,
    )
    typer.echo(result.vkey)


# --- append ---------------------------------------------------------------------------------


@app.command("append")
def append_cmd(
    spec: SpecOpt = None,
    store: StoreOpt = None,
    durability: Annotated[
        str,
        typer.Option("--durability", help="sequenced (committed) or published (checkpointed)."),
    ] = "sequenced",
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Append entries from JSON lines on stdin ({"kind": ..., "payload": {...}}); print indexes."""
    from mondaytest.audit.ingest import drafter_for, drafts_from_lines, refuse_taken_ids

    if durability not in ("sequenced", "published"):
        raise InputError("--durability must be sequenced or published")
    config = _config(spec, store)
    # every line is checked before the store is opened: bad input creates nothing
    drafts = drafts_from_lines(sys.stdin.buffer, drafter_for(config.origin))
    refuse_taken_ids(drafts, None)  # two lines with one id: refused before the store opens
    with open_log(config) as log:
        refuse_taken_ids(drafts, log.store)
        indexes = log.append_drafts(
            drafts, "published" if durability == "published" else "sequenced"
        )
        if durability != "published" and indexes:
            # sign the checkpoint here rather than in the writer thread at close, so a
            # checkpoint that cannot be signed fails this command instead of a log line
            log.checkpoint()
    if fmt is OutputFormat.json:
        _emit_json({"indexes": indexes})
    else:
        for idx in indexes:
            typer.echo(str(idx))
    state.err_console().print(
        f"appended {len(indexes)} entr{'y' if len(indexes) == 1 else 'ies'}", markup=False
    )


# --- checkpoint, receipt --------------------------------------------------------------------


@app.command("checkpoint")
def checkpoint_cmd(
    spec: SpecOpt = None,
    store: StoreOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="Write the note (with --format json, the JSON) here.",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Verify the tree and publish a fresh signed checkpoint; print it."""
    import base64

    with _open_existing(spec, store, readonly=False) as log:
        cp = log.checkpoint()
    data = cp.note
    if fmt is OutputFormat.json:
        doc = {
            "seq": cp.seq,
            "size": cp.size,
            "root": base64.b64encode(cp.root).decode(),
            "note": cp.note.decode(),
        }
        data = (json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    _write_out(out, data)
    if out is not None and str(out) != "-":
        state.err_console().print(
            f"checkpoint #{cp.seq} (size {cp.size}) written to {out}"
            + (" as JSON" if fmt is OutputFormat.json else ""),
            markup=False,
        )


@app.command("receipt")
def receipt_cmd(
    target: Annotated[
        str, typer.Argument(help="Entry index or entry/decision id.", metavar="INDEX|ID")
    ],
    spec: SpecOpt = None,
    store: StoreOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="Receipt file (.tlog-proof).", show_default=False),
    ] = None,
    no_entry: Annotated[
        bool, typer.Option("--no-entry", help="Leave the entry out (the verifier needs --entry).")
    ] = False,
) -> None:
    """Write a C2SP tlog-proof receipt for one entry (to stdout without -o)."""
    with _open_existing(spec, store, readonly=False) as log:
        data = log.receipt(target, include_entry=not no_entry)
    _write_out(out, data)
    if out is not None:
        state.err_console().print(f"receipt written to {out} ({len(data)} bytes)", markup=False)


# --- verify, fsck, consistency --------------------------------------------------------------


def _saved_checkpoints(config: LogConfig, files: list[Path] | None) -> list[tuple[str, bytes]]:
    from mondaytest.audit.checkpoint import peek_checkpoint
    from mondaytest.audit.witness import witnessed_checkpoint

    saved: list[tuple[str, bytes]] = []
    for path in files or []:
        note = _read(path, "checkpoint")
        try:
            peek_checkpoint(note)
        except NoteError as exc:
            # Not a checkpoint at all is the user's input; a parsable one that does not
            # match the log is still reported by fsck (exit 1).
            raise InputError(
                f"{path} is not a checkpoint note: {exc.message}",
                hint="pass a file written by `monday audit checkpoint -o FILE`",
            ) from None
        saved.append((str(path), note))
    witnessed = witnessed_checkpoint(config.base_dir / config.witness_dir, config.origin)
    if witnessed is not None:
        saved.append(witnessed)
    return saved


DeepOpt = Annotated[
    bool,
    typer.Option("--deep", help="Also check every entry's canonical form and JSON profile."),
]


def _run_fsck(
    config: LogConfig,
    files: list[Path] | None,
    fmt: OutputFormat,
    verb: str,
    deep: bool,
    *,
    source: str,
    choice: PolicyChoice | None = None,
    verifiers: list[Ed25519Verifier] | None = None,
) -> None:
    import base64

    from mondaytest.audit.verify import verify_store

    handle = open_existing_store(config.store_url, base_dir=config.base_dir, source=source)
    try:
        report, result = verify_store(
            handle,
            config.verifiers() if verifiers is None else verifiers,
            origin=config.origin,
            saved=_saved_checkpoints(config, files),
            deep=deep,
            policy=choice.policy if choice is not None else None,
        )
    finally:
        handle.close()
    if fmt is OutputFormat.json:
        data: dict[str, Any] = {
            "ok": report.ok,
            "origin": report.origin,
            "size": report.size,
            "checkpoints": report.checkpoints,
            "saved_checkpoints": report.saved,
            "root": base64.b64encode(report.root or b"").decode(),
            "first_bad_index": report.first_bad,
            "problems": [{"index": f.index, "message": f.message} for f in report.findings],
        }
        if result is not None and choice is not None:
            data.update(_policy_json(choice, result.witnessed.describe()))
            data.update(
                {
                    "witnessed_size": result.witnessed.checkpoint.size,
                    "newest_checkpoint_size": result.newest_size,
                    "not_yet_witnessed": result.unwitnessed,
                    "newest_quorum_gap": result.newest_gap,
                }
            )
        _emit_json(data)
    else:
        out = state.console()
        if report.ok:
            under = ""
            if result is not None and choice is not None:
                under = f"; {result.witnessed.describe()} under {choice.describe()}"
                pending = result.pending()
                if pending is not None:
                    under += f"; {pending}"
            out.print(
                f"✓ {verb}: {report.size} entries of {report.origin} recomputed; "
                f"{report.checkpoints} signed checkpoint(s) and {report.saved} saved "
                f"checkpoint(s) match; root {base64.b64encode(report.root or b'').decode()}"
                + under,
                markup=False,
            )
        else:
            for f in report.findings[:20]:
                out.print(f"✗ {f.message}", markup=False)
            if len(report.findings) > 20 or report.truncated:
                out.print("… more problems not shown")
    report.raise_for_problems()


def _policy_json(choice: PolicyChoice, described: str) -> dict[str, str]:
    return {"policy": described, "policy_file": str(choice.path), "policy_from": choice.source}


@app.command("fsck")
def fsck_cmd(
    spec: SpecOpt = None,
    store: StoreOpt = None,
    vkey: VkeyOpt = None,
    checkpoint: CheckpointOpt = None,
    deep: DeepOpt = False,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Recompute the whole log from its entries; exit 1 naming the first bad index."""
    _run_fsck(
        _offline_config(spec, store, vkey),
        checkpoint,
        fmt,
        "fsck",
        deep,
        source=store_source(store),
    )


PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="C2SP tlog-policy file: trusted logs, witnesses and the quorum a checkpoint must "
        "meet: the receipt's, the tiles export's, or for a store its newest stored checkpoint "
        "that meets it (later entries are reported as not yet witnessed). Default: "
        "audit.witness.policy of the contract, inside a governed project.",
        show_default=False,
    ),
]
NoPolicyOpt = Annotated[
    bool,
    typer.Option(
        "--no-policy", help="Ignore audit.witness.policy: check the log key only, no quorum."
    ),
]


def _choose_policy(policy: Path | None, spec: Path | None, no_policy: bool) -> PolicyChoice | None:
    """The policy in force (``--policy``, else the contract's), announced on stderr."""
    from mondaytest.audit.policy import choose_policy

    if policy is not None and no_policy:
        raise InputError("--policy and --no-policy exclude each other")
    choice = choose_policy(policy, spec, use_contract=not no_policy)
    if choice is not None and choice.source != "--policy":
        state.err_console().print(
            f"applying the witness {choice.describe()}; --policy FILE overrides it, "
            "--no-policy skips it",
            markup=False,
        )
    return choice


@app.command("verify")
def verify_cmd(
    receipt: Annotated[
        Path | None,
        typer.Argument(
            help="A .tlog-proof receipt; without it the whole store is verified.",
            show_default=False,
        ),
    ] = None,
    entry: Annotated[
        Path | None,
        typer.Option(
            "--entry",
            help="The logged entry's exact bytes (if the receipt lacks them).",
            show_default=False,
        ),
    ] = None,
    tiles: Annotated[
        Path | None,
        typer.Option(
            "--tiles", help="Verify an exported tiles directory instead.", show_default=False
        ),
    ] = None,
    spec: SpecOpt = None,
    store: StoreOpt = None,
    vkey: VkeyOpt = None,
    checkpoint: CheckpointOpt = None,
    policy: PolicyOpt = None,
    no_policy: NoPolicyOpt = False,
    deep: DeepOpt = False,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Verify offline, against a vkey or a policy: a receipt, a tiles directory, or a store."""
    _refuse_options_of_other_modes(receipt, entry, tiles, checkpoint, deep, store)
    choice = _choose_policy(policy, spec, no_policy)
    if receipt is not None:
        with _json_on_failure(fmt, {"receipt": str(receipt)}, choice):
            _verify_receipt(receipt, entry, spec, store, vkey, choice, fmt)
        return
    if tiles is not None:
        with _json_on_failure(fmt, {"tiles": str(tiles)}, choice):
            _verify_tiles(tiles, spec, store, vkey, choice, fmt)
        return
    if choice is None:
        _run_fsck(
            _offline_config(spec, store, vkey),
            checkpoint,
            fmt,
            "verified",
            deep,
            source=store_source(store),
        )
        return
    _run_fsck(
        _policy_config(spec, store, vkey),
        checkpoint,
        fmt,
        "verified",
        deep,
        source=store_source(store),
        choice=choice,
        verifiers=_parse_vkeys(vkey) if vkey else [],
    )


def _refuse_options_of_other_modes(
    receipt: Path | None,
    entry: Path | None,
    tiles: Path | None,
    checkpoint: list[Path] | None,
    deep: bool,
    store: str | None,
) -> None:
    """``verify`` checks a receipt, a tiles export or a store: an option of another mode would
    be silently ignored (and the command still pass), so it is a usage error (exit 2)."""
    if receipt is not None and tiles is not None:
        raise InputError(
            f"a RECEIPT ({receipt}) and --tiles {tiles} are two separate checks; give one",
            hint="run `monday audit verify RECEIPT` and `monday audit verify --tiles DIR` "
            "one after the other",
        )
    if entry is not None and receipt is None:
        raise InputError(
            f"--entry {entry} is the entry of a receipt, but no RECEIPT was given",
            hint="run `monday audit verify RECEIPT --entry FILE`, or drop --entry",
        )
    if receipt is None and tiles is None:
        return
    target = "a RECEIPT" if receipt is not None else "--tiles"
    carries = "the receipt" if receipt is not None else "the export"
    if checkpoint:
        raise InputError(
            f"--checkpoint checks a store against checkpoints saved elsewhere; it does not "
            f"apply to {target} ({carries} carries its own signed checkpoint)",
            hint="drop --checkpoint, or check the store with `monday audit verify "
            "--checkpoint FILE` (or `monday audit fsck --checkpoint FILE`)",
        )
    if store is not None:
        raise InputError(
            f"--store names a store to check; {target} is checked without one ({carries} "
            "carries its own proof and signed checkpoint)",
            hint="drop --store, or check the store itself with `monday audit verify --store URL`",
        )
    if deep:
        raise InputError(
            f"--deep re-checks every entry of a store; it does not apply to {target}",
            hint="drop --deep, or check the store with `monday audit verify --deep` "
            "(or `monday audit fsck --deep`)",
        )


@contextmanager
def _json_on_failure(
    fmt: OutputFormat, about: dict[str, Any], choice: PolicyChoice | None
) -> Iterator[None]:
    """With ``--format json``, a check that fails (exit 1) still prints its JSON report, as
    fsck does; the error and its exit code are unchanged."""
    try:
        yield
    except CheckFailed as exc:
        if fmt is OutputFormat.json:
            data: dict[str, Any] = {
                "ok": False,
                **about,
                "problems": [{"index": None, "message": exc.message, "hint": exc.hint}],
            }
            if choice is not None:
                data.update({"policy_file": str(choice.path), "policy_from": choice.source})
            _emit_json(data)
        raise


_RECEIPT_OFFLINE = "pass --spec, or verify the receipt offline with --vkey VKEY (no store needed)"
_TILES_OFFLINE = "pass --spec, or verify the export offline with --vkey VKEY (no store needed)"


def _verify_receipt(
    receipt: Path,
    entry: Path | None,
    spec: Path | None,
    store: str | None,
    vkey: list[str] | None,
    choice: PolicyChoice | None,
    fmt: OutputFormat,
) -> None:
    import base64

    from mondaytest.audit.verify import verify_receipt_bytes, verify_receipt_policy

    quorum = ""
    described = ""
    entry_bytes = _read(entry, "entry") if entry else None
    if choice is not None:
        ok, result = verify_receipt_policy(
            _read(receipt, "receipt"),
            choice.policy,
            entry=entry_bytes,
            log_keys=_parse_vkeys(vkey) if vkey else (),
        )
        described = result.describe()
        quorum = f"; {described} under {choice.describe()}"
    else:
        trusted = (
            _parse_vkeys(vkey)
            if vkey
            else _offline_config(spec, store, None, offline_hint=_RECEIPT_OFFLINE).verifiers()
        )
        ok = verify_receipt_bytes(_read(receipt, "receipt"), trusted, entry=entry_bytes)
    what: dict[str, Any] = {
        "ok": True,
        "index": ok.index,
        "origin": ok.checkpoint.origin,
        "size": ok.checkpoint.size,
        "root": base64.b64encode(ok.checkpoint.root).decode(),
        "signed_by": [f"{s.name}+{s.key_id.hex()}" for s in ok.checkpoint.log_signatures],
        "cosignatures": len(ok.checkpoint.cosignatures),
    }
    if choice is not None:
        what.update(_policy_json(choice, described))
    leaf = entry_bytes if entry_bytes is not None else ok.extra
    about = ""
    if leaf is not None:
        try:
            e = decode_entry(leaf)
            what["entry"] = {"type": e.type, "kind": e.kind, "id": e.id, "ts": e.ts}
            about = f" ({e.kind} {e.id} at {e.ts})"
        except InputError:
            pass
    if fmt is OutputFormat.json:
        _emit_json(what)
        return
    state.console().print(
        f"✓ entry {ok.index}{about} is in log {ok.checkpoint.origin} at size "
        f"{ok.checkpoint.size} (root {what['root']}), checkpoint signed by "
        f"{', '.join(what['signed_by'])}"
        + (f", {what['cosignatures']} witness cosignature(s)" if what["cosignatures"] else "")
        + quorum,
        markup=False,
    )


def _verify_tiles(
    tiles: Path,
    spec: Path | None,
    store: str | None,
    vkey: list[str] | None,
    choice: PolicyChoice | None,
    fmt: OutputFormat,
) -> None:
    import base64

    from mondaytest.audit.verify import verify_tiles_export

    trust = choice.policy if choice is not None else None
    if vkey:
        trusted = _parse_vkeys(vkey)
    elif trust is not None:
        trusted = []  # the policy names the log keys
    else:
        trusted = _offline_config(spec, store, None, offline_hint=_TILES_OFFLINE).verifiers()
    report, verdict = verify_tiles_export(tiles, trusted, policy=trust)
    cp = report.checkpoint
    root = base64.b64encode(cp.root).decode()
    if fmt is OutputFormat.json:
        data: dict[str, Any] = {
            "ok": True,
            "origin": cp.origin,
            "size": cp.size,
            "root": root,
            "entries_checked": report.entries_checked,
            "min_index": report.min_index,
            "pruned": report.pruned,
        }
        if verdict is not None and choice is not None:
            data.update(_policy_json(choice, verdict.describe()))
        _emit_json(data)
        return
    pruned = (
        f"; {report.pruned} entries below the minimum index {report.min_index} are "
        "pruned (their bundles are not served)"
        if report.pruned
        else ""
    )
    under = f" under {choice.describe()}" if choice is not None else ""
    state.console().print(
        f"✓ tiles in {tiles}: {cp.size} entries of {cp.origin} match their tiles and the "
        f"signed checkpoint (root {root}); {report.entries_checked} entries checked "
        f"against their leaf hashes{pruned}"
        + (f"; {verdict.describe()}{under}" if verdict is not None else ""),
        markup=False,
    )


@app.command("consistency")
def consistency_cmd(
    old: Annotated[Path, typer.Argument(help="The older checkpoint file.")],
    new: Annotated[Path, typer.Argument(help="The newer checkpoint file.")],
    spec: SpecOpt = None,
    store: StoreOpt = None,
    vkey: VkeyOpt = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Prove that checkpoint OLD is a prefix of checkpoint NEW (append-only in between)."""
    import base64

    from mondaytest.audit.verify import check_consistency, follow_rotations

    config = _offline_config(spec, store, vkey)
    handle = open_existing_store(
        config.store_url, base_dir=config.base_dir, source=store_source(store)
    )
    try:
        old_note, new_note = _read(old, "checkpoint"), _read(new, "checkpoint")
        verifiers = follow_rotations(handle, config.verifiers(), config.origin)
        # each file on its own first, so a problem names the file it is in
        first = _open_checkpoint_arg(old_note, f"OLD ({old})", verifiers, config.origin)
        second = _open_checkpoint_arg(
            new_note, f"NEW ({new})", verifiers, config.origin or first.origin
        )
        if first.size > second.size:
            raise CheckFailed(
                f"NEW ({new}) covers {second.size} entries, fewer than OLD ({old}) with "
                f"{first.size}: the log was rolled back, or the arguments are in the wrong order",
                hint="pass the older checkpoint first: monday audit consistency OLD NEW",
            )
        a, b, proof = check_consistency(old_note, new_note, verifiers, handle, origin=config.origin)
    finally:
        handle.close()
    if fmt is OutputFormat.json:
        _emit_json(
            {
                "ok": True,
                "old_size": a.size,
                "new_size": b.size,
                "proof": [base64.b64encode(h).decode() for h in proof],
            }
        )
    else:
        state.console().print(
            f"✓ the log of size {a.size} is a prefix of the log of size {b.size} "
            f"({len(proof)}-hash consistency proof verified; both checkpoints signed)",
            markup=False,
        )


def _open_checkpoint_arg(
    note: bytes, which: str, verifiers: Sequence[NoteVerifier], origin: str | None
) -> Checkpoint:
    """Verify one checkpoint argument; its error (same class and exit code) names it."""
    from mondaytest.audit.checkpoint import open_checkpoint
    from mondaytest.audit.receipt import HEADER

    if note.startswith(HEADER.encode() + b"\n"):
        raise InputError(
            f"{which} is a receipt (c2sp.org/tlog-proof), not a checkpoint note",
            hint="consistency compares two checkpoint notes (`monday audit checkpoint -o FILE`, "
            "or the witness file); verify a receipt with `monday audit verify RECEIPT`",
        )
    try:
        return open_checkpoint(note, verifiers, origin=origin)
    except MondayError as exc:
        exc.message = f"{which}: {exc.message}"
        exc.args = (exc.message,)
        raise


# --- export, log ----------------------------------------------------------------------------


@app.command("export")
def export_cmd(
    tiles: Annotated[Path, typer.Option("--tiles", help="Directory to write (C2SP tlog-tiles).")],
    spec: SpecOpt = None,
    store: StoreOpt = None,
) -> None:
    """Write a static C2SP tlog-tiles directory of the log at its latest checkpoint."""
    from mondaytest.audit.export import export_store

    with _open_existing(spec, store) as log:
        cp, files = export_store(log, tiles)
    state.console().print(
        f"exported {cp.size} entries ({files} files) to {tiles}; "
        f"check it with `monday audit verify --tiles {tiles}`",
        markup=False,
    )


def _entry_line(e: Entry) -> str:
    if e.type == "decision":
        outcome = e.payload.get("outcome", {})
        detail = f"{e.payload.get('decision')} → {json.dumps(outcome, ensure_ascii=False)}"
        detail += f"  config_idx={e.config_idx}"
    else:
        detail = json.dumps(e.payload, ensure_ascii=False, sort_keys=True)
        if len(detail) > 120:
            detail = detail[:117] + "…"
    return f"{e.idx:>8}  {e.ts}  {e.kind:<16} {detail}"


_MAX_LOG_N = 1_000_000
"""``monday audit log -n`` at most: more is a paging job for ``export --tiles``."""


def _check_kind(kind: str) -> None:
    """Refuse a ``--kind`` no entry can have (a typo would list nothing and exit 0)."""
    from mondaytest.audit.entries import kinds

    known = sorted(kinds())
    if kind != "decision" and kind not in known:
        raise InputError(
            f"--kind {kind!r} is not a registered entry kind",
            hint=f"use decision or one of: {', '.join(known)}",
        )


@app.command("log")
def log_cmd(
    spec: SpecOpt = None,
    store: StoreOpt = None,
    n: Annotated[
        int,
        typer.Option(
            "-n", "--limit", help="How many entries (newest), 1 to 1000000.", min=1, max=_MAX_LOG_N
        ),
    ] = 20,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="Only this kind (decision for decisions).", show_default=False),
    ] = None,
    grep: Annotated[
        str | None,
        typer.Option(
            "--grep", help="Only entries whose bytes contain this text.", show_default=False
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Show the newest entries, optionally of one kind or containing some text."""
    if kind is not None:
        _check_kind(kind)
    # a store alone needs no contract (as for monitor and why)
    config = _store_config(store) if store is not None and spec is None else _config(spec, store)
    with open_existing_log(config, readonly=True, source=store_source(store)) as log:
        entries = log.tail(n, kind=kind, text=grep)
    if fmt is OutputFormat.json:
        for e in entries:
            typer.echo(e.raw.decode("utf-8"))
        return
    out = state.console()
    if not entries:
        state.err_console().print("no matching entries")
    for e in entries:
        out.print(_entry_line(e), markup=False)


@app.command("why")
def why_cmd(
    target: Annotated[
        str, typer.Argument(help="The decision's index or entry id.", metavar="INDEX|ID")
    ],
    spec: SpecOpt = None,
    store: StoreOpt = None,
    vkeys: VkeyOpt = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Explain one decision: what was decided, the configuration in force (model version and
    the gate that approved it, guardrails, waivers, prompts, thresholds), and the proofs.

    Exit 0 when every check holds, 1 when one does not (say, a model version no passing gate
    approved, or an entry that does not verify), 2 for an unknown entry.
    """
    from mondaytest.audit.why import explain

    config = _offline_config(spec, store, vkeys)
    with open_existing_log(config, readonly=True, source=store_source(store)) as log:
        result = explain(log, target)
    if fmt is OutputFormat.json:
        _emit_json(result.to_json())
    else:
        _render_why(result)
    if not result.ok:
        raise typer.Exit(1)


def _render_why(result: Explanation) -> None:
    out = state.console()
    d = result.decision
    out.print(f"[bold]decision {d.idx}[/]  {escape(d.ts)}  id {escape(d.id)}", highlight=False)
    outcome = json.dumps(d.payload.get("outcome", {}), ensure_ascii=False, sort_keys=True)
    out.print(f"  {d.payload.get('decision')} → {outcome}", markup=False, highlight=False)
    facts = {
        k: v for k, v in d.payload.items() if k not in ("decision", "outcome") and v not in ([], {})
    }
    for key, value in facts.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.print(f"  {key}: {text}", markup=False, highlight=False)
    cfg = d.config_idx
    out.print(
        f"\n[bold]configuration in force[/] (config_idx {cfg if cfg is not None else 'none'})",
        highlight=False,
    )
    if not result.in_force:
        out.print("  none recorded before this decision")
    first = ("model", "guardrail", "target", "prompt", "name", "version", "value", "action")
    for item in result.in_force:
        payload = item.entry.payload
        ordered = {k: payload[k] for k in first if k in payload}
        ordered.update((k, v) for k, v in sorted(payload.items()) if k not in ordered)
        body = json.dumps(ordered, ensure_ascii=False)
        if len(body) > 110:
            body = body[:107] + "…"
        out.print(f"  {item.kind:<17} #{item.entry.idx:<7} {body}", markup=False, highlight=False)
        for a in item.approvals:
            what = a.payload.get("result") if a.kind == "eval_gate" else a.payload.get("approver")
            extra = a.payload.get("suite") if a.kind == "eval_gate" else a.payload.get("expires")
            out.print(
                f"  {'':<17}  └ {a.kind} #{a.idx}: {what} ({extra or '-'})",
                markup=False,
                highlight=False,
            )
    for kind in result.truncated:
        out.print(f"  ({kind}: only the newest entries were read back)", markup=False)
    out.print("\n[bold]checks[/]")
    marks = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[yellow]![/]"}
    for check in result.checks:
        out.print(f"  {marks[check.ok]} {escape(check.text)}", highlight=False)
    verdict = "[green]every check holds[/]" if result.ok else "[red]a check does not hold[/]"
    out.print(f"\n{verdict}")


@app.command("monitor")
def monitor_cmd(
    spec: SpecOpt = None,
    store: StoreOpt = None,
    show: Annotated[int, typer.Option("--show", help="How many violations to list.", min=0)] = 20,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Replay the log and check every decision against the configuration in force: its
    config_idx, the model version it names, and the gate verdict (or waiver) that approved it.

    Exit 0 when every decision holds, 1 when one does not. `monday audit fsck` proves the
    bytes; this proves that what they say fits together.
    """
    from mondaytest.audit.monitor import monitor

    if store is not None and spec is None:  # a store alone needs no contract
        url, base_dir = resolve_store_url(None, store), None
    else:
        config = _config(spec, store)
        url, base_dir = config.store_url, config.base_dir
    handle = open_existing_store(url, base_dir=base_dir, source=store_source(store))
    try:
        report = monitor(handle, max_violations=max(show, 200))
    finally:
        handle.close()
    if fmt is OutputFormat.json:
        _emit_json(report.to_json())
    elif report.end == 0:
        state.console().print("the log is empty: there are no decisions to monitor")
    else:
        _render_monitor(report, show)
    if not report.ok:
        raise typer.Exit(1)


def _render_monitor(report: MonitorReport, show: int) -> None:
    from mondaytest.audit.monitor import RULES

    out = state.console()
    if report.start >= report.end:
        out.print(
            f"no entries to monitor: all {report.end} are below the minimum index {report.start}",
            highlight=False,
        )
    else:
        out.print(
            f"monitored entries {report.start}..{report.end - 1}: {report.decisions} decisions",
            highlight=False,
        )
    what = {
        "config_idx": "each names the last configuration change before it",
        "model": "each used the model version in force",
        "approval": "each ran under a model version a passing eval gate (or a standing "
        "waiver) approved",
    }
    for rule in RULES:
        count = report.counts[rule]
        if count == 0:
            extra = (
                f" ({report.waived} under a waiver)" if rule == "approval" and report.waived else ""
            )
            out.print(f"  [green]✓[/] {rule}: {what[rule]}{extra}", highlight=False)
        else:
            out.print(f"  [red]✗[/] {rule}: {count} decision(s) do not hold", highlight=False)
    if report.unchecked:
        out.print(
            f"  [yellow]![/] {report.unchecked} decision(s) name a model announced below the "
            "log's minimum index: not checked",
            highlight=False,
        )
    if report.unreadable:
        out.print(
            f"  [red]✗[/] {report.unreadable} entries could not be read: run `monday audit fsck`",
            highlight=False,
        )
    for v in report.violations[:show]:
        out.print(f"  {v.idx:>8}  {v.rule:<10} {v.text}", markup=False, highlight=False)
    hidden = sum(report.counts.values()) - min(show, len(report.violations))
    if hidden > 0:
        out.print(f"  … {hidden} more (--show N, or --format json)", highlight=False)


@app.command("witness")
def witness_cmd(
    commit: Annotated[
        Path | None,
        typer.Option(
            "--commit",
            help="Witness directory in the repository (default: audit.witness.dir).",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="Witness key (file:PATH or env:VAR, made by `monday audit keygen --witness`): "
            "cosign the checkpoint saved (c2sp.org/tlog-cosignature).",
            show_default=False,
        ),
    ] = None,
    no_git: Annotated[
        bool, typer.Option("--no-git", help="Write the file but do not git-commit it.")
    ] = False,
    spec: SpecOpt = None,
    store: StoreOpt = None,
) -> None:
    """CI as witness: move the saved checkpoint forward only along a verified consistency proof
    (and cosign it with --key)."""
    from mondaytest.audit.keys import load_witness_signer
    from mondaytest.audit.witness import witness

    cosigner = load_witness_signer(key) if key is not None else None
    config = _offline_config(
        spec, store, None, offline_hint="run it in the governed project, or pass --spec FILE"
    )
    directory = commit if commit is not None else config.base_dir / config.witness_dir
    handle = open_existing_store(
        config.store_url, base_dir=config.base_dir, source=store_source(store)
    )
    try:
        from mondaytest.audit.verify import follow_rotations

        result = witness(
            handle,
            follow_rotations(handle, config.verifiers(), config.origin),  # across rotations
            config.origin,
            directory,
            commit=not no_git,
            cosigner=cosigner,
        )
    finally:
        handle.close()
    before = f"size {result.previous.size}" if result.previous else "nothing"
    out = state.console()
    out.print(
        f"✓ witnessed {config.origin} at size {result.current.size} (was {before}); "
        + (f"cosigned by {cosigner.name} at {_utc(result.cosigned_at)}; " if cosigner else "")
        + f"saved {result.path}"
        + (" and committed it" if result.committed else ""),
        markup=False,
    )
    if result.cosigner is not None:
        out.print(f"  witness vkey: {result.cosigner}", markup=False)
        out.print(
            "  store the cosignature with `monday audit cosign "
            f"{result.path}` (the policy must list this vkey on a `witness` line)",
            markup=False,
        )


@app.command("cosign")
def cosign_cmd(
    note: Annotated[
        Path,
        typer.Argument(
            help="A cosigned checkpoint note, e.g. the file `monday audit witness --key` saved.",
            metavar="FILE",
        ),
    ],
    witness_vkey: Annotated[
        list[str] | None,
        typer.Option(
            "--witness-vkey",
            help="Trusted witness key (cosignature/v1 vkey); repeatable. Default: the witnesses "
            "of the policy.",
            show_default=False,
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="C2SP tlog-policy file whose witnesses (and logs) are trusted. Default: "
            "audit.witness.policy of the contract.",
            show_default=False,
        ),
    ] = None,
    spec: SpecOpt = None,
    store: StoreOpt = None,
    vkey: VkeyOpt = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Store the witness cosignatures of a checkpoint note with the store's checkpoint of that
    tree (the newest, or an older one the log has moved on from), so `monday audit verify
    --policy` counts them."""
    from mondaytest.audit.policy import choose_policy
    from mondaytest.audit.verify import follow_rotations
    from mondaytest.audit.witness import store_cosignatures

    data = _read(note, "checkpoint note")
    witnesses = _parse_witness_vkeys(witness_vkey or [])
    choice = None if witnesses and policy is None else choose_policy(policy, spec)
    trusted_from = ", ".join(
        ([choice.describe()] if choice is not None else [])
        + (["--witness-vkey"] if witnesses else [])
    )
    if choice is not None:
        witnesses += choice.policy.witness_verifiers()
    if not witnesses:
        raise InputError(
            "no witness key to check the cosignatures against",
            hint="pass --policy FILE (its `witness` lines) or --witness-vkey VKEY, or set "
            "audit.witness.policy in monday.yaml",
        )
    config = (
        _policy_config(spec, store, vkey)
        if choice is not None
        else _offline_config(spec, store, vkey)
    )
    handle = open_existing_store(  # cosign stores cosignatures: writable
        config.store_url, base_dir=config.base_dir, source=store_source(store), readonly=False
    )
    try:
        log_keys: list[NoteVerifier] = list(config.verifiers())
        if choice is not None:
            log_keys += choice.policy.log_verifiers(config.origin)
        log_keys = follow_rotations(handle, log_keys, config.origin)
        result = store_cosignatures(
            handle,
            data,
            log_keys,
            witnesses,
            origin=config.origin,
            source=str(note),
            trusted_from=trusted_from,
        )
    finally:
        handle.close()
    cp = result.checkpoint
    added = [f"{s.name} (at {_utc(s.timestamp)})" for s in result.added]
    if fmt is OutputFormat.json:
        _emit_json(
            {
                "ok": True,
                "origin": cp.origin,
                "size": cp.size,
                "seq": result.seq,
                "added": [
                    {"name": s.name, "key_id": s.key_id.hex(), "timestamp": s.timestamp}
                    for s in result.added
                ],
                "already_stored": result.already,
            }
        )
    elif result.seq is None:
        state.console().print(
            f"✓ the store already holds every cosignature of {note} on the checkpoint of "
            f"{cp.origin} at size {cp.size}; nothing written",
            markup=False,
        )
    else:
        state.console().print(
            f"✓ stored checkpoint #{result.seq} of {cp.origin} at size {cp.size} with "
            f"{len(added)} new cosignature(s): {', '.join(added)}"
            + (f" ({result.already} already stored)" if result.already else "")
            + "; `monday audit verify --policy` counts them",
            markup=False,
        )


def _utc(timestamp: int | None) -> str:
    """A cosignature's time as RFC 3339 UTC."""
    from datetime import UTC, datetime

    if timestamp is None:
        return "an unknown time"
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"Unix time {timestamp}"


def _parse_witness_vkeys(vkeys: list[str]) -> list[Ed25519Verifier]:
    out: list[Ed25519Verifier] = []
    for number, text in enumerate(vkeys, 1):
        which = "--witness-vkey" if len(vkeys) == 1 else f"--witness-vkey #{number}"
        try:
            verifier = parse_vkey(text)
        except NoteError as exc:
            # The text is not echoed: it may be a private key pasted by mistake.
            raise _vkey_error(
                which, exc, "`monday audit keygen --witness` printed (a `witness` line's key)"
            ) from None
        if verifier.sig_type != SIG_COSIGNATURE_V1:
            raise InputError(
                f"{which} is a key of signature type 0x{verifier.sig_type:02x}, not a witness "
                "key (cosignature/v1, type 0x04)",
                hint="pass the vkey `monday audit witness --key` printed (its base64 starts "
                "with B); a log key goes to --vkey",
            )
        out.append(verifier)
    return out


@app.command("rotate-key")
def rotate_key_cmd(
    finish: Annotated[
        bool, typer.Option("--finish", help="End the dual-signed window: the new key takes over.")
    ] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (recorded in the entry).")
    ] = "scheduled",
    spec: SpecOpt = None,
    store: StoreOpt = None,
) -> None:
    """Rotate the log key: start a dual-signed window, or --finish it (records the new vkey)."""
    from mondaytest.audit.rotation import rotate_finish, rotate_start
    from mondaytest.spec import load_spec

    loaded = load_spec(spec)
    config = LogConfig.from_spec(loaded, store=store)
    out = state.console()
    if finish:
        result = rotate_finish(config, loaded.path, reason=reason)
        if result is None:
            out.print(
                f"✓ completed the interrupted rotation: audit.vkey updated in {loaded.path.name} "
                "(the finish entry was already logged and the key files swapped). Restart every "
                "process that writes to the log so it signs with the new key.",
                markup=False,
            )
            return
        out.print(
            f"✓ rotation finished at entry {result.entry}: checkpoints are now signed by "
            f"{result.new_vkey} only; audit.vkey updated in {loaded.path.name}; old key kept "
            f"as {result.retired_key}. Restart every process that writes to the log: a writer "
            "keeps the key it was opened with",
            markup=False,
        )
        return
    result = rotate_start(config, reason=reason)
    out.print(
        f"✓ rotation started at entry {result.entry}: checkpoints are signed by both keys.\n"
        f"  new vkey: {result.new_vkey}\n"
        "  give it to every verifier, restart the processes that write to the log (a writer "
        "keeps the keys it was opened with), then run `monday audit rotate-key --finish`",
        markup=False,
    )


@app.command("erase")
def erase_cmd(
    subject: Annotated[
        str,
        typer.Argument(
            help="The person's id as the application knows it; - reads it from stdin (so it "
            "stays out of the process list and the shell history)."
        ),
    ],
    legal_basis: Annotated[
        str | None,
        typer.Option(
            "--legal-basis", help="Request or ticket id (never its content).", show_default=False
        ),
    ] = None,
    spec: SpecOpt = None,
    store: StoreOpt = None,
) -> None:
    """Erase a person's vault material (GDPR Art. 17) and record an erasure entry."""
    if subject == "-":
        subject = sys.stdin.readline().strip()
        if not subject:
            raise InputError(
                "no subject id on stdin", hint="e.g. printf '%s\\n' \"$ID\" | monday audit erase -"
            )
    with _open_existing(spec, store, readonly=False) as log:
        idx, records = log.erase(subject, legal_basis_ref=legal_basis)
    state.console().print(
        f"✓ erased {records} vault record(s) and the subject's key; erasure entry {idx} "
        "(proofs and fsck still verify; the commitments can no longer be opened)",
        markup=False,
    )


@app.command("scrub")
def scrub_cmd(
    spec: SpecOpt = None,
    store: StoreOpt = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for readers.", min=0)
    ] = 30.0,
) -> None:
    """Truncate the store's write-ahead log so no old page image of erased vault material
    survives there (after `erase` said a reader kept it open). Exit 3 while readers still do."""
    with _open_existing(spec, store, readonly=False) as log:
        done = log.scrub(timeout)
    if not done:
        raise StoreError(
            f"readers kept the write-ahead log busy for {timeout:g} s; it still holds old pages",
            hint="run it again when long reads (exports, backups, monitors) are done",
        )
    state.console().print("✓ write-ahead log checkpointed and truncated")


@app.command("backup")
def backup_cmd(
    target: Annotated[Path, typer.Argument(help="File to write (must not exist).")],
    spec: SpecOpt = None,
    store: StoreOpt = None,
) -> None:
    """Write an online, consistent copy of the store and verify the copy with fsck."""
    with _open_existing(spec, store) as log:
        report = log.backup(target)
    state.console().print(
        f"✓ backup {target}: {report.size} entries and {report.checkpoints} checkpoint(s) "
        "verified. Restore: stop writers, copy it over the store file, run `monday audit fsck`.",
        markup=False,
    )


@app.command("retention")
def retention_cmd(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would change only.")] = False,
    spec: SpecOpt = None,
    store: StoreOpt = None,
) -> None:
    """Enforce audit.retention: raise the minimum index, expire vault material, log it."""
    from mondaytest.audit.retention import RETENTION_FLOOR_DAYS, enforce_retention

    with _open_existing(spec, store, readonly=False) as log:
        result = enforce_retention(log, dry_run=dry_run)
    out = state.console()
    if result.below_floor:
        state.err_console().print(
            f"warning: retention {result.policy} is shorter than {RETENTION_FLOOR_DAYS} days "
            "(EU AI Act Art. 19 asks for at least six months)",
            markup=False,
        )
    if dry_run:
        out.print(
            f"retention {result.policy}: entries before {result.cutoff} are past it; the minimum "
            f"index would go {result.previous_min_index} → {result.min_index}, "
            f"{result.expired_records} vault record(s) and {result.expired_subjects} subject(s) "
            "would expire (dry run: nothing changed)",
            markup=False,
        )
    elif result.entry is None:
        out.print(
            f"retention {result.policy}: nothing is past it (minimum index {result.min_index})",
            markup=False,
        )
    else:
        out.print(
            f"✓ retention {result.policy}: minimum index {result.previous_min_index} → "
            f"{result.min_index}, {result.expired_records} vault record(s) expired; "
            f"entry {result.entry}",
            markup=False,
        )
