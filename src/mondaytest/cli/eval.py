"""``monday eval``: run suites, inspect runs, compare them, measure flakiness.

Every command parses its options, calls :mod:`mondaytest.evals` and renders. Runs live under
``.monday/runs`` beside the contract (``--spec``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mondaytest.cli import state
from mondaytest.cli.options import FormatOpt, SpecOpt
from mondaytest.cli.state import OutputFormat
from mondaytest.errors import ConfigError, InputError

if TYPE_CHECKING:
    from mondaytest.evals.compare import Comparison
    from mondaytest.evals.gate_run import SuiteGate
    from mondaytest.evals.gating import GateResult
    from mondaytest.evals.runner import RunResult, SuiteRef

# The evals core (numpy, scipy, the runner) is imported inside each command, so `monday --help`
# and unrelated commands start fast.

__all__ = ["app"]

app = typer.Typer(help="Eval suites: run, show, list, compare, flakiness.", no_args_is_help=True)

JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")]
CommentOpt = Annotated[
    Path | None,
    typer.Option("--comment-out", help="Write the pull-request comment (Markdown) here."),
]
HtmlOpt = Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")]
StepSummaryOpt = Annotated[
    bool,
    typer.Option(
        "--step-summary/--no-step-summary",
        help="Append the summary to $GITHUB_STEP_SUMMARY when it is set.",
    ),
]
RunUrlOpt = Annotated[
    str | None,
    typer.Option("--run-url", help="Link to the CI run (default: from GitHub Actions' env)."),
]


def _root(spec: Path | None) -> Path:
    """The project directory: where the contract is (runs live under its .monday/)."""
    from mondaytest.spec.loader import find_spec

    try:
        return find_spec(spec).resolve().parent
    except ConfigError:
        if spec is not None:
            raise
        return Path.cwd()


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


# ------------------------------------------------------------------------------------ progress


class _Progress:
    """A bar on a terminal; a plain line every few seconds in CI or when piped."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.plain = state.plain()
        self.total = 0
        self.suite = ""
        self._bar: Any = None
        self._task: Any = None
        self._last = 0.0

    def started(self, run_id: str, suite: str, total: int, done: int) -> None:
        self.total, self.suite = total, suite
        if self.quiet:
            return
        err = state.err_console()
        resumed = f", resuming at {done}" if done else ""
        err.print(
            f"run {run_id}: {total} trials of suite {suite}{resumed}", markup=False, highlight=False
        )
        if not self.plain:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            self._bar.start()
            # the description column renders markup: the suite name is escaped
            self._task = self._bar.add_task(escape(suite), total=total, completed=done, status="")
        self._last = time.monotonic()

    def progress(self, done: int, errors: int, passed: int, failed: int) -> None:
        if self.quiet:
            return
        status = f"pass {passed} fail {failed} err {errors}"
        if self._bar is not None:
            self._bar.update(self._task, completed=done, status=status)
        elif time.monotonic() - self._last >= 5.0:
            self._last = time.monotonic()
            state.err_console().print(
                f"{self.suite}: {done}/{self.total} trials, {status}", markup=False, highlight=False
            )

    def finished(self, data: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _cache_mode(cache: str | None) -> Literal["rw", "ro", "off"] | None:
    """The --cache option, checked."""
    if cache is not None and cache not in ("rw", "ro", "off"):
        raise InputError(f"--cache must be rw, ro or off, not {cache!r}")
    return cast('Literal["rw", "ro", "off"] | None', cache)


# ------------------------------------------------------------------------------------ rendering


def _metrics_table(data: dict[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("metric", "kind", "graded", "n", "mean", "pass rate", "errors"):
        table.add_column(
            col, justify="right" if col in ("n", "mean", "pass rate", "errors") else "left"
        )
    for name, m in (data.get("metrics") or {}).items():
        table.add_row(
            *(
                escape(cell)
                for cell in (
                    name,
                    str(m.get("kind")),
                    "model" if m.get("deterministic") is False else "deterministic",
                    str(m.get("n")),
                    _fmt(m.get("mean")),
                    _pct(m.get("pass_rate")),
                    str(m.get("errors", 0)),
                )
            )
        )
    return table


def _render_run(data: dict[str, Any], run_dir: Path | None) -> None:
    out = state.console()
    counts = data.get("counts") or {}
    duration = data.get("duration_s") or 0
    trials = counts.get("trials", 0)
    rate = f", {trials / duration:,.0f}/s" if duration else ""
    status = data.get("status")
    colour = "green" if status == "complete" else "red"
    # run.json is data: every value is printed literally, only our styling is markup
    out.print(
        f"run [bold]{escape(str(data.get('run_id')))}[/]  [{colour}]{escape(str(status))}[/]  "
        f"suite {escape(str(data.get('suite')))} v{escape(str(data.get('suite_version')))}  "
        f"{escape(str(trials))} trials in {duration:.2f}s{rate}"
    )
    if data.get("stopped_reason"):
        out.print(f"  [red]stopped:[/] {escape(str(data['stopped_reason']))}")
    cfg = data.get("config") or {}
    out.print(
        f"  passed {counts.get('passed', 0)}  failed {counts.get('failed', 0)}  "
        f"errors {counts.get('errors', 0) + counts.get('score_errors', 0)}  "
        f"cached {counts.get('cached', 0)}  retried {counts.get('retried', 0)}  "
        f"mode {cfg.get('mode')}  seed {cfg.get('seed')}"
        + (f"  sample {cfg.get('sample')}" if cfg.get("sample") else ""),
        markup=False,
    )
    out.print(_metrics_table(data))
    for name, m in (data.get("metrics") or {}).items():
        cls = m.get("classification")
        if cls:
            out.print(
                f"  {name}: accuracy {_fmt(cls['accuracy'])}  macro F1 {_fmt(cls['macro']['f1'])}  "
                f"micro F1 {_fmt(cls['micro']['f1'])}  labels {', '.join(map(str, cls['labels']))}",
                markup=False,
            )
    for scorer in data.get("scorers") or []:
        if scorer.get("deterministic") is False:
            out.print(
                f"  {scorer['name']} is model-graded; pin its judge: pin: {scorer['fingerprint']}",
                markup=False,
            )
    lat = data.get("latency_ms") or {}
    if lat.get("n"):
        out.print(
            f"  latency ms: p50 {_fmt(lat.get('p50'), 2)}  p95 {_fmt(lat.get('p95'), 2)}  "
            f"max {_fmt(lat.get('max'), 2)}",
            markup=False,
        )
    cost = (data.get("cost") or {}).get("total")
    if cost is not None:
        out.print(f"  cost: ${cost:.4f}", markup=False)
    if data.get("recorded"):
        out.print(
            f"  recorded {data['recorded']['calls']} calls to {data['recorded']['cassette']}",
            markup=False,
        )
    if run_dir is not None:
        out.print(f"  {run_dir}", markup=False)


# ------------------------------------------------------------------------------------ commands


@app.command("run")
def run(
    suite: Annotated[
        str | None, typer.Argument(help="Suite name (optional when there is one).")
    ] = None,
    spec: SpecOpt = None,
    sample: Annotated[
        int | None, typer.Option("--sample", min=1, help="Run N cases, stratified by tag.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="Seed of order and sample.")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, max=100, help="Trials per case.")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, max=1024, help="Target calls in flight.")
    ] = None,
    cache: Annotated[
        str | None, typer.Option("--cache", help="Output cache: rw, ro or off.", show_default=False)
    ] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Run live and write the cassette.")
    ] = False,
    replay: Annotated[
        bool, typer.Option("--replay", help="Use the cassette instead of the target.")
    ] = False,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue an unfinished run (id or 'latest').")
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="key=value stored in run.json (repeatable).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Run a suite: trials stream to .monday/runs/<id>/trials.jsonl, the summary to run.json.

    Exit 0 when the run completed (judging it is `monday eval gate`'s job), 2 for a bad
    contract or dataset, 3 when the run stopped over its error budget or ran nothing.
    """
    from mondaytest.evals.runner import RunOptions, run_suite_interruptible
    from mondaytest.evals.suites import suite_from_spec
    from mondaytest.spec import load_spec

    if record and replay:
        raise InputError("--record and --replay exclude each other")
    cache_mode = _cache_mode(cache)
    labels: dict[str, str] = {}
    for item in label or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--label needs key=value, got {item!r}")
        labels[key] = value
    loaded = load_spec(spec)
    ref = suite_from_spec(loaded, suite)
    options = RunOptions(
        sample=sample,
        seed=seed,
        epochs=epochs,
        concurrency=concurrency,
        cache=cache_mode,
        mode="record" if record else ("replay" if replay else "live"),
        resume=resume,
        labels=labels,
    )
    result = run_suite_interruptible(ref, options, _Progress(quiet or fmt is OutputFormat.json))
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(result.data, indent=2, ensure_ascii=False))
    else:
        _render_run(result.data, result.dir)
    result.raise_for_status()


@app.command("show")
def show(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="Run id, unique prefix, 'latest' or path.")
    ] = "latest",
    spec: SpecOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Failures and errors to list.")] = 20,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Show a run: summary, metrics, and its failed and errored cases."""
    from mondaytest.evals.run_views import run_problems
    from mondaytest.evals.runs import resolve_run

    record = resolve_run(_root(spec), run_ref)
    found = run_problems(record, limit)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
        return
    _render_run(record.data, record.dir)
    out = state.console()
    n_fail, n_err = found.n_failed, found.n_errors
    if found.failures:
        out.print(f"[bold]failed[/] ({n_fail}{', first ' + str(limit) if n_fail > limit else ''}):")
        for t in found.failures:
            reasons = [
                f"{name}: {s.get('reason') or s.get('value')}"
                for name, s in (t.get("scores") or {}).items()
                if s.get("passed") is False
            ]
            out.print(
                f"  {t['case']} (epoch {t.get('epoch', 0)}): {'; '.join(reasons)}", markup=False
            )
    if found.errors:
        out.print(f"[bold]errors[/] ({n_err}{', first ' + str(limit) if n_err > limit else ''}):")
        for t in found.errors:
            retries = f" after {t.get('attempts')} attempts" if t.get("attempts", 1) > 1 else ""
            out.print(
                f"  {t['case']} (epoch {t.get('epoch', 0)}){retries}: {t.get('error')}",
                markup=False,
            )


@app.command("ls")
def ls(
    spec: SpecOpt = None,
    suite: Annotated[str | None, typer.Option("--suite", help="Only runs of this suite.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N runs.")] = 20,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """List runs, newest last."""
    from mondaytest.evals.run_views import run_rows

    rows = run_rows(_root(spec), suite, limit)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps([r.to_json() for r in rows], indent=2))
        return
    if not rows:
        state.console().print("no runs yet — start one with `monday eval run SUITE`")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("run", "suite", "status", "started", "trials", "pass rate", "errors", "mode"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            *(
                escape(cell)
                for cell in (
                    row.run_id,
                    row.suite,
                    row.status,
                    str(row.started_at or ""),
                    _fmt(row.trials),
                    _pct(row.pass_rate),
                    _fmt(row.errors),
                    str(row.mode),
                )
            )
        )
    state.console().print(table)


def _print_id_lists(out: Console, lists: Iterable[tuple[str, Sequence[str]]]) -> None:
    """One line per non-empty list of case ids: title, count and the first 20."""
    for title, ids in lists:
        if ids:
            shown = ", ".join(ids[:20]) + (f" … ({len(ids) - 20} more)" if len(ids) > 20 else "")
            out.print(f"{title} ({len(ids)}): {shown}", markup=False)


def _render_comparison(cmp: Comparison) -> None:
    out = state.console()
    out.print(
        f"compare [bold]{escape(cmp.a.id)}[/] (A) → [bold]{escape(cmp.b.id)}[/] (B), "
        f"suite {escape(cmp.b.suite)}"
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("metric", "n", "A", "B", "Δ", "95% CI of Δ", "p", "flips"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m in cmp.metrics:
        ci = f"[{m.low:+.3f}, {m.high:+.3f}]" if m.low is not None and m.high is not None else "—"
        flips = f"-{m.pass_to_fail}/+{m.fail_to_pass}" if m.binary else ""
        delta = m.delta
        table.add_row(
            *(
                escape(cell)
                for cell in (
                    m.name,
                    str(m.n),
                    _fmt(m.a_mean),
                    _fmt(m.b_mean),
                    "—" if delta is None else f"{delta:+.3f}",
                    ci,
                    _fmt(m.p_value),
                    flips,
                )
            )
        )
    out.print(table)
    _print_id_lists(
        out,
        (
            ("passed in A, not in B", cmp.to_fail),
            ("failed in A, pass in B", cmp.to_pass),
            ("only in B", cmp.added),
            ("only in A", cmp.removed),
        ),
    )
    for note in cmp.notes:
        out.print(f"note: {note}", markup=False)


@app.command("compare")
def compare(
    a: Annotated[str, typer.Argument(help="Run A (e.g. the baseline run).")],
    b: Annotated[str, typer.Argument(help="Run B (e.g. the candidate).")] = "latest",
    spec: SpecOpt = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Pair two runs case by case: Δ per metric with a 95 % interval, flipped cases.

    Runs of different suite versions, scorers or cases are refused (exit 3), naming what differs.
    """
    from mondaytest.evals.compare import compare_runs
    from mondaytest.evals.runs import resolve_run

    root = _root(spec)
    cmp = compare_runs(resolve_run(root, a), resolve_run(root, b))
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(cmp.to_json(), indent=2))
        return
    _render_comparison(cmp)


@app.command("flaky")
def flaky(
    runs: Annotated[
        list[str] | None, typer.Argument(metavar="[RUN]...", help="Runs to pool.")
    ] = None,
    spec: SpecOpt = None,
    suite: Annotated[
        str | None, typer.Option("--suite", help="Use this suite's newest runs.")
    ] = None,
    last: Annotated[int, typer.Option("--last", min=1, help="How many newest runs to pool.")] = 1,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Flaky cases to list.")] = 20,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Per-case flake rate across epochs and runs (run with --epochs 3 or pool several runs)."""
    from mondaytest.evals.flaky import flaky_report, runs_to_pool

    records = runs_to_pool(_root(spec), runs or (), suite=suite, last=last)
    report = flaky_report(records)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    out = state.console()
    out.print(
        f"{len(report.cases)} cases over {len(records)} run(s); {report.repeated} with ≥2 trials; "
        f"flaky: {len(report.flaky)} ({_pct(report.flaky_share)})",
        markup=False,
    )
    if report.repeated == 0:
        out.print("no case ran twice: use --epochs 3, or pool runs with --last N")
    for c in report.flaky[:limit]:
        out.print(
            f"  {c.id}: passed {c.passes}/{c.trials} ({_pct(c.pass_rate)}), "
            f"flake rate {_pct(c.flake_rate)}",
            markup=False,
        )


# ------------------------------------------------------------------------------------ gate

baseline_app = typer.Typer(
    help="The committed baseline: bless a run, show it.", no_args_is_help=True
)
app.add_typer(baseline_app, name="baseline")


def _status_colour(status: str) -> str:
    return {"pass": "green", "fail": "red", "inconclusive": "yellow"}.get(status, "white")


def _num(value: Any, signed: bool = False) -> str:
    if value is None:
        return "—"
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        return "—"
    return f"{number:+.3f}" if signed else f"{number:.3f}"


def _render_gate(result: GateResult, strict: bool) -> None:
    out = state.console()
    v = result.verdict
    code = v.exit_code(strict=strict)
    colour = _status_colour(v.status.value)
    base = f" against baseline {escape(result.baseline.run_id)}" if result.baseline else ""
    out.print(
        f"gate [{colour}]{escape(v.status.value.upper())}[/] for run {escape(result.run.id)}"
        f"{base}: {v.n_judged} cases judged, {v.n_paired} paired (exit {code})"
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("check", "status", "value", "Δ", "95% CI", "p", "MDE", "why"):
        table.add_column(col)
    for c in v.checks:
        signed = c.kind.value == "regression"
        ci = (
            f"[{_num(c.ci_low, signed)}, {_num(c.ci_high, signed)}]"
            if c.ci_low is not None
            else "—"
        )
        table.add_row(
            escape(c.name),
            f"[{_status_colour(c.status.value)}]{escape(c.status.value)}[/]",
            escape(_num(c.estimate)),
            escape(_num(c.delta, True)),
            escape(ci),
            escape(_num(c.p_adjusted if c.p_adjusted is not None else c.p_value)),
            escape(_num(c.mde)),
            escape(c.reason),
        )
    out.print(table)
    _print_id_lists(
        out,
        (
            ("flipped pass → fail", v.flipped_to_fail),
            ("flipped fail → pass", v.flipped_to_pass),
            ("errored", v.errored),
            ("added (not compared)", v.added),
            ("removed (not compared)", v.removed),
        ),
    )
    for q in v.quarantined:
        out.print(f"quarantined until {q.expires}: {q.id} — {q.reason}", markup=False)
    for note in (*v.notes, *result.notes):
        out.print(f"note: {note}", markup=False)


class _GateView:
    """Renders a gate as it goes (:class:`~mondaytest.evals.gate_run.GateObserver`)."""

    def __init__(self, quiet: bool, fmt: OutputFormat, strict: bool) -> None:
        self.quiet = quiet
        self.json = fmt is OutputFormat.json
        self.strict = strict

    def run_observer(self, suite: SuiteRef) -> _Progress:
        return _Progress(self.quiet or self.json)

    def run_finished(self, result: RunResult) -> None:
        if not self.json and not self.quiet:
            _render_run(result.data, result.dir)

    def suite_started(self, name: str) -> None:
        if not self.json:
            state.console().print(f"── suite {name}", markup=False)

    def suite_finished(self, gate: SuiteGate) -> None:
        self.render(gate)
        if not self.json and (gate.error is not None or gate.exit_code in (1, 3)):
            state.err_console().print(
                f"[bold red]error:[/] {escape(gate.message())}", highlight=False, soft_wrap=True
            )

    def render(self, gate: SuiteGate) -> None:
        """The verdict, the files written and the audit entry (nothing for a stopped gate)."""
        if gate.result is None:
            return
        if gate.audit_skipped and not self.quiet and not self.json:
            state.err_console().print(
                "note: the verdict is not in the audit log: audit.vkey is not set "
                "(run `monday audit keygen`, or pass --no-record)",
                markup=False,
            )
        if self.json:
            return
        _render_gate(gate.result, self.strict)
        for path in gate.written:
            state.console().print(f"wrote {path}", markup=False)
        if gate.audit_idx is not None:
            state.console().print(
                f"recorded the verdict as eval_gate entry {gate.audit_idx} in the audit log",
                markup=False,
            )


@app.command("gate")
def gate(
    suite: Annotated[
        str | None, typer.Argument(help="Suite name (optional when there is one).")
    ] = None,
    spec: SpecOpt = None,
    all_suites: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Gate every suite in the contract, one after another; the exit code is the "
            "highest of theirs. Report paths must then contain {suite}.",
        ),
    ] = False,
    run_ref: Annotated[
        str | None,
        typer.Option("--run", help="Judge this existing run instead of running the suite now."),
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Baseline file (default: the suite's).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Inconclusive fails too.")] = False,
    sample: Annotated[
        int | None, typer.Option("--sample", min=1, help="Run N cases, stratified.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="Seed of order and sample.")
    ] = None,
    cache: Annotated[
        str | None, typer.Option("--cache", help="rw, ro or off.", show_default=False)
    ] = None,
    replay: Annotated[
        bool, typer.Option("--replay", help="Use the cassette (keyless CI).")
    ] = False,
    junit: JunitOpt = None,
    comment_out: CommentOpt = None,
    html: HtmlOpt = None,
    step_summary: StepSummaryOpt = True,
    run_url: RunUrlOpt = None,
    record_evidence: Annotated[
        bool,
        typer.Option(
            "--record/--no-record",
            help="Write the verdict into the audit log as an eval_gate entry (when audit.vkey "
            "is set).",
        ),
    ] = True,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Audit store URL (overrides audit.store and MONDAY_DATABASE_URL).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Run the suite (or take --run) and judge it: required cases, thresholds, paired
    non-inferiority against the baseline, budgets.

    Exit 0 pass (or inconclusive under `warn`), 1 the system got worse or missed a threshold,
    2 bad contract or input, 3 the run or the baseline is unusable (errors over budget, not
    comparable, no baseline). With --all, every suite is gated and the exit code is the
    highest of theirs.
    """
    from mondaytest.evals.gate_run import GateRequest, gate_all_suites, gate_suite
    from mondaytest.evals.suites import suite_from_spec
    from mondaytest.spec import load_spec

    cache_mode = _cache_mode(cache)
    loaded = load_spec(spec)
    request = GateRequest(
        run_ref=run_ref,
        baseline=baseline,
        strict=strict,
        sample=sample,
        seed=seed,
        cache=cache_mode,
        replay=replay,
        junit=junit,
        comment_out=comment_out,
        html=html,
        step_summary=step_summary,
        run_url=run_url,
        record_evidence=record_evidence,
        store=store,
    )
    view = _GateView(quiet, fmt, strict)
    if not all_suites:
        ref = suite_from_spec(loaded, suite)
        one = gate_suite(loaded, ref, request.for_suite(ref.name), view)
        view.render(one)
        if fmt is OutputFormat.json:
            typer.echo(json.dumps(one.to_json(), indent=2, ensure_ascii=False))
        one.raise_for_exit_code()
        return
    if suite is not None:
        raise InputError(f"--all gates every suite; drop the suite name {suite!r}")
    gated = gate_all_suites(loaded, request, view, reraise=state.DEBUG)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(gated.to_json(), indent=2, ensure_ascii=False))
    else:
        summary = ", ".join(f"{n} exit {c}" for n, c in gated.exit_codes.items())
        state.console().print(f"gated {len(gated.suites)} suite(s): {summary}", markup=False)
    if gated.exit_code:
        raise typer.Exit(gated.exit_code)


@baseline_app.command("bless")
def baseline_bless(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="The run to bless ('latest' works).")
    ],
    spec: SpecOpt = None,
    suite: Annotated[
        str | None, typer.Option("--suite", help="Suite (default: the run's).")
    ] = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Make a complete run the suite's committed baseline (evals/baselines/<suite>.json).

    This is the only way the baseline changes: commit the file in a reviewed pull request.
    """
    from mondaytest.evals.baseline import summarize_baseline
    from mondaytest.evals.gating import bless_run
    from mondaytest.evals.runs import resolve_run
    from mondaytest.evals.suites import suite_from_spec
    from mondaytest.spec import load_spec

    loaded = load_spec(spec)
    record = resolve_run(loaded.root_dir, run_ref, suite)
    ref = suite_from_spec(loaded, suite or record.suite)
    blessed = summarize_baseline(*bless_run(ref, record))
    if fmt is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "path": str(blessed.path),
                    "run_id": blessed.run_id,
                    "cases": blessed.cases,
                    "digest": blessed.digest,
                }
            )
        )
        return
    state.console().print(
        f"blessed run {blessed.run_id} as the baseline of {ref.name}: "
        f"{blessed.cases} cases, {blessed.passed} passing → {blessed.path}\n"
        "commit it to make it the reference for every pull request",
        markup=False,
    )


@baseline_app.command("show")
def baseline_show(
    suite: Annotated[
        str | None, typer.Argument(help="Suite name (optional when there is one).")
    ] = None,
    spec: SpecOpt = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Show the suite's committed baseline: where it came from and what it holds."""
    from mondaytest.evals.baseline import read_baseline, summarize_baseline
    from mondaytest.evals.gating import suite_baseline_path
    from mondaytest.evals.suites import suite_from_spec
    from mondaytest.spec import load_spec

    ref = suite_from_spec(load_spec(spec), suite)
    path = suite_baseline_path(ref)
    base = summarize_baseline(read_baseline(path, suite=ref.name), path)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(base.to_json(), indent=2))
        return
    out = state.console()
    out.print(f"baseline of {base.suite}: run {base.run_id}, blessed {base.created}", markup=False)
    out.print(f"  {base.path}", markup=False)
    out.print(f"  {base.cases} cases, {base.passed} passing, {base.errored} errored", markup=False)
    for name, mean in base.metrics.items():
        out.print(f"  {name}: mean {mean:.3f}", markup=False)
    out.print(f"  fingerprint: {base.fingerprint or '—'}", markup=False)
    if not base.has_case_hashes:
        out.print(
            f"  {base.schema}: no per-case hashes, so a case edited under its id is not "
            "caught; re-bless to record them",
            markup=False,
        )


@app.command("plan")
def plan(
    suite: Annotated[
        str | None, typer.Argument(help="Suite name (optional when there is one).")
    ] = None,
    spec: SpecOpt = None,
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Power planning: the smallest drop this suite can detect, and the cases needed to detect
    the gate's margin, from the variability of past runs."""
    from mondaytest.evals.gating import plan_suite
    from mondaytest.evals.suites import suite_from_spec
    from mondaytest.spec import load_spec

    ref = suite_from_spec(load_spec(spec), suite)
    plans, notes = plan_suite(ref)
    if fmt is OutputFormat.json:
        typer.echo(
            json.dumps(
                {"suite": ref.name, "metrics": [p.to_json() for p in plans], "notes": notes},
                indent=2,
            )
        )
        return
    out = state.console()
    for p in plans:
        mde = "none detectable" if p.mde == float("inf") else f"{p.mde:.3f}"
        verdict = "[green]can detect[/]" if p.adequate else "[red]cannot detect[/]"
        out.print(
            f"{escape(p.metric)}: {p.n} cases → MDE {mde}; margin {p.margin:g}: {verdict}"
            + (f"; ≈{p.needed:,} cases needed" if p.needed is not None else "")
        )
        out.print(f"  variability: {p.spread:.4f} ({p.basis})", markup=False)
    for note in notes:
        out.print(f"note: {note}", markup=False)


@app.command("report")
def report(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="Run id, unique prefix, 'latest' or path.")
    ] = "latest",
    spec: SpecOpt = None,
    gate_too: Annotated[
        bool, typer.Option("--gate", help="Judge the run with the suite's gate and show it.")
    ] = False,
    junit: JunitOpt = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write Markdown here.")
    ] = None,
    html: HtmlOpt = None,
    run_url: RunUrlOpt = None,
) -> None:
    """Write projections of a run: JUnit XML, Markdown, HTML (with --gate: of its verdict)."""
    from mondaytest.evals.report.files import write_reports
    from mondaytest.evals.runs import resolve_run

    if not (junit or markdown or html):
        raise InputError("say what to write: --junit, --markdown and/or --html")
    result = None
    if gate_too:
        from mondaytest.evals.gating import gate_run
        from mondaytest.evals.suites import suite_from_spec
        from mondaytest.spec import load_spec

        loaded = load_spec(spec)
        record = resolve_run(loaded.root_dir, run_ref)
        result = gate_run(suite_from_spec(loaded, record.suite), record, write=False)
    else:
        record = resolve_run(_root(spec), run_ref)
    for path in write_reports(
        record,
        result,
        junit=junit,
        markdown=markdown,
        html=html,
        step_summary=False,
        strict=False,
        run_url=run_url,
    ):
        state.console().print(f"wrote {path}", markup=False)
