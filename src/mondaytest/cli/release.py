"""``monday release``: put a model version in force, bound to the gate verdict that approved it.

``record`` writes the ``model_version`` entry (refused without a passing ``eval_gate`` entry for
the target, unless a signed waiver stands in), ``show`` says which version of each model is in
force and which gate (or waiver) approved it, ``waiver sign`` / ``waiver verify`` make and check
waivers. Every command parses, calls :mod:`mondaytest.evals.release` and renders.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from mondaytest.cli import state
from mondaytest.cli.options import FormatOpt, SpecOpt, StoreOpt
from mondaytest.cli.state import OutputFormat
from mondaytest.errors import InputError

if TYPE_CHECKING:
    from mondaytest.evals.release import InForce, ReleaseRecord

__all__ = ["release_app"]

release_app = typer.Typer(
    help="Releases: put a model version in force, bound to the eval gate verdict that approved it.",
    no_args_is_help=True,
)
waiver_app = typer.Typer(
    help="Signed waivers that let a release go ahead without a passing gate.",
    no_args_is_help=True,
)
release_app.add_typer(waiver_app, name="waiver")

ModelOpt = Annotated[str, typer.Option("--model", help="Model id.", show_default=False)]
VersionOpt = Annotated[str, typer.Option("--version", help="Model version.", show_default=False)]
SuiteOpt = Annotated[
    str | None,
    typer.Option(
        "--suite",
        help="Suite whose gate approves it (its target as it is now).",
        show_default=False,
    ),
]
FingerprintOpt = Annotated[
    str | None,
    typer.Option(
        "--fingerprint",
        help="Target fingerprint released (run.json target.fingerprint of the gated run).",
        show_default=False,
    ),
]


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


# ------------------------------------------------------------------------------------ record


def _render_record(rec: ReleaseRecord) -> None:
    out = state.console()
    p = rec.payload
    was = f" (was {p.previous})" if p.previous and p.previous != p.version else ""
    out.print(f"released {p.model} {p.version}{was}: model_version entry {rec.idx}", markup=False)
    gate = rec.approval.gate
    if rec.waiver is not None:
        w = rec.waiver.waiver
        out.print(
            f"bound to waiver entry {rec.waiver_idx}: approved by {w.approver} "
            f"(key {rec.waiver.key}) until {w.expires:%Y-%m-%d %H:%M}Z — {w.reason}",
            markup=False,
        )
        out.print(f"waived: {p.waived}", markup=False)
    elif gate is not None:
        others = [g.idx for g in rec.approval.gates[1:]]
        also = f" (and {', '.join(map(str, others))})" if others else ""
        out.print(
            f"bound to eval_gate entry {gate.idx}{also}: suite {gate.suite}, run {gate.run}, "
            f"{gate.result}, target {p.target}",
            markup=False,
        )
    for note in rec.notes:
        out.print(f"note: {note}", markup=False)


@release_app.command("record")
def record(
    model: ModelOpt,
    version: VersionOpt,
    suite: SuiteOpt = None,
    fingerprint: FingerprintOpt = None,
    waiver: Annotated[
        Path | None,
        typer.Option(
            "--waiver",
            help="A signed waiver (from `monday release waiver sign`) standing in for a pass.",
            show_default=False,
        ),
    ] = None,
    digest: Annotated[
        str | None,
        typer.Option("--digest", help="sha256:<hex> of the model artefact.", show_default=False),
    ] = None,
    approval: Annotated[
        str | None,
        typer.Option(
            "--approval", help="Change request or PR that approved it.", show_default=False
        ),
    ] = None,
    spec: SpecOpt = None,
    store: StoreOpt = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Put a model version in force, bound to the gate verdict that approved it.

    Writes the model_version entry, bound to the newest passing eval_gate entry for the released
    target (--suite: the suite's target as it is now; or --fingerprint).

    Exit 0 recorded, 1 refused (no gate run, the gate failed or was inconclusive, the target
    or the contract changed since, a waiver that does not hold), 2 bad input (malformed
    waiver file, unknown suite), 3 the log could not be written.
    """
    from mondaytest.audit.log import open_log
    from mondaytest.evals.release import release_model
    from mondaytest.spec import load_spec

    if suite is None and fingerprint is None:
        raise InputError(
            "say what is released: --suite SUITE or --fingerprint FINGERPRINT",
            hint="the fingerprint is target.fingerprint in the gated run's run.json",
        )
    waiver_bytes = _read_file(waiver, "waiver") if waiver is not None else None
    loaded = load_spec(spec)
    with open_log(loaded, store=store) as log:
        rec = release_model(
            log,
            loaded,
            model_id=model,
            version=version,
            target_fingerprint=fingerprint,
            suite=suite,
            waiver=waiver_bytes,
            digest=digest,
            approval=approval,
        )
    if fmt is OutputFormat.json:
        _emit(rec.to_json())
    else:
        _render_record(rec)


# -------------------------------------------------------------------------------------- show


def _render_show(items: list[InForce]) -> None:
    from rich.table import Table

    out = state.console()
    if not items:
        out.print("no model version has been released yet (monday release record)", markup=False)
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("model", "version", "entry", "recorded", "approved by"):
        table.add_column(col)
    for item in items:
        if item.gate is not None:
            g = item.gate
            by = f"eval_gate {g.idx}: suite {g.suite}, run {g.run}, {g.result}"
        elif item.waiver is not None:
            w = item.waiver
            by = (
                f"waiver {item.payload.get('waiver_idx')}: {w.get('approver')} "
                f"until {w.get('expires')} — {w.get('reason')}"
            )
        else:
            by = "—"
        # model ids, versions and the approval are user text: cells are escaped, not markup
        table.add_row(
            *(
                escape(cell)
                for cell in (item.model, item.version, str(item.idx), item.ts[:19] + "Z", by)
            )
        )
    out.print(table)
    for item in items:
        for problem in item.problems:
            out.print(f"warning: {item.model} {item.version}: {problem}", markup=False)


@release_app.command("show")
def show(
    model: Annotated[
        str | None, typer.Option("--model", help="Only this model.", show_default=False)
    ] = None,
    spec: SpecOpt = None,
    store: StoreOpt = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Show the version in force of each model and the gate verdict (or waiver) behind it."""
    from mondaytest.audit.log import open_log
    from mondaytest.evals.release import models_in_force
    from mondaytest.spec import load_spec

    loaded = load_spec(spec)
    with open_log(loaded, store=store, readonly=True) as log:
        items = models_in_force(log, model)
    if model is not None and not items:
        raise InputError(
            f"model {model!r} has no release in the audit log",
            hint="record one with `monday release record`",
        )
    if fmt is OutputFormat.json:
        _emit([i.to_json() for i in items])
    else:
        _render_show(items)


# ------------------------------------------------------------------------------------ waiver


def _parse_expires(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--expires {text!r} is not an RFC 3339 time", hint="e.g. 2026-12-01T09:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise InputError(f"--expires {text!r} has no time zone", hint="end it in Z")
    return moment


@waiver_app.command("sign")
def waiver_sign(
    model: ModelOpt,
    version: VersionOpt,
    reason: Annotated[
        str, typer.Option("--reason", help="Why it ships without a pass.", show_default=False)
    ],
    approver: Annotated[
        str, typer.Option("--approver", help="Your person id in owners.", show_default=False)
    ],
    key: Annotated[
        str,
        typer.Option(
            "--key",
            help="Your signing key: file:PATH or env:VAR (`monday audit keygen --out PATH "
            "--origin ID` makes one).",
            show_default=False,
        ),
    ],
    days: Annotated[
        int | None,
        typer.Option(
            "--days", min=1, max=30, help="Valid for N days (default 7).", show_default=False
        ),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires", help="Expiry (RFC 3339), at most 30 days away.", show_default=False
        ),
    ] = None,
    suite: SuiteOpt = None,
    fingerprint: FingerprintOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write the waiver here (default: stdout).", show_default=False
        ),
    ] = None,
    spec: SpecOpt = None,
) -> None:
    """Sign a release waiver (a C2SP signed note) with your key from owners in monday.yaml."""
    from mondaytest.audit.keys import load_signer
    from mondaytest.evals.release import check_approver_key, sign_waiver
    from mondaytest.spec import load_spec

    loaded = load_spec(spec)
    signer = load_signer(key, base_dir=Path.cwd())
    check_approver_key(loaded.model, approver, signer)
    note = sign_waiver(
        signer,
        model=model,
        version=version,
        reason=reason,
        approver=approver,
        expires=_parse_expires(expires) if expires is not None else None,
        days=days,
        suite=suite,
        fingerprint=fingerprint,
    )
    if out is None or str(out) == "-":
        typer.echo(note.decode("utf-8"), nl=False)
        return
    try:
        out.write_bytes(note)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    state.err_console().print(f"wrote the waiver for {model} {version} to {out}", markup=False)


@waiver_app.command("verify")
def waiver_verify(
    file: Annotated[Path, typer.Argument(help="The waiver file.")],
    model: ModelOpt,
    version: VersionOpt,
    suite: SuiteOpt = None,
    fingerprint: FingerprintOpt = None,
    spec: SpecOpt = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Check a waiver: its approver's signature, expiry and that it covers this model version.

    Exit 0 valid, 1 it does not hold, 2 the file is not a waiver.
    """
    from mondaytest.evals.release import verify_waiver
    from mondaytest.spec import load_spec

    data = _read_file(file, "waiver")
    loaded = load_spec(spec)
    signed = verify_waiver(
        data,
        loaded.model,
        model=model,
        version=version,
        suite=suite,
        fingerprint=fingerprint,
        source=f"waiver {file}",
    )
    w = signed.waiver
    if fmt is OutputFormat.json:
        _emit({"valid": True, "key": signed.key, **w.to_json()})
        return
    state.console().print(
        f"valid: {w.model} {w.version} waived by {w.approver} (key {signed.key}) until "
        f"{w.expires:%Y-%m-%d %H:%M}Z — {w.reason}",
        markup=False,
    )
