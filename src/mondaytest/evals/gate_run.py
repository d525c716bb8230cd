"""Gating suites end to end: run a suite (or take a finished run), judge it, write its reports and
record the verdict in the audit log; for one suite or for every suite of the contract.

This is ``monday eval gate`` without the rendering. A caller describes what to do in a
:class:`GateRequest`, may follow along through a :class:`GateObserver` (progress of the runs,
each suite as it starts and ends) and renders the results::

    from mondaytest.evals.gate_run import GateRequest, gate_all_suites
    from mondaytest.spec import load_spec

    gated = gate_all_suites(load_spec("monday.yaml"), GateRequest(replay=True))
    print(gated.exit_codes, gated.exit_code)   # {'smoke': 0, 'triage': 1} 1

:func:`gate_suite` gates one suite and raises what stops it;
:func:`gate_all_suites` gates every suite, keeps going past a suite that cannot be gated and
gives the highest exit code of all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mondaytest.errors import CheckFailed, ConfigError, HarnessError, InputError, MondayError

if TYPE_CHECKING:
    from mondaytest.evals.gating import GateResult
    from mondaytest.evals.runner import RunObserver, RunResult, SuiteRef
    from mondaytest.spec.loader import LoadedSpec

__all__ = [
    "AllSuitesGate",
    "GateObserver",
    "GateRequest",
    "SuiteGate",
    "all_suite_names",
    "gate_all_suites",
    "gate_suite",
]

SUITE_PLACEHOLDER = "{suite}"
"""Replaced by the suite's name in report paths (required with several suites)."""


@dataclass(frozen=True)
class GateRequest:
    """What to gate and what to do with the verdict (the options of ``monday eval gate``)."""

    run_ref: str | None = None
    """Judge this existing run (id, prefix, ``latest`` or path) instead of running the suite."""
    baseline: Path | None = None
    """Baseline file (default: the suite's)."""
    strict: bool = False
    """An inconclusive verdict fails too."""
    sample: int | None = None
    """Run this many cases, stratified by tag."""
    seed: int | None = None
    """Seed of the order and the sample."""
    cache: Literal["rw", "ro", "off"] | None = None
    """Output cache mode (None: the suite's)."""
    replay: bool = False
    """Run from the cassette instead of the target (keyless CI)."""
    junit: Path | None = None
    """Write JUnit XML here."""
    comment_out: Path | None = None
    """Write the pull-request comment (Markdown) here."""
    html: Path | None = None
    """Write the HTML report here."""
    step_summary: bool = False
    """Append the summary to ``$GITHUB_STEP_SUMMARY`` when it is set."""
    run_url: str | None = None
    """Link to the CI run shown in the reports (default: from GitHub Actions' environment)."""
    record_evidence: bool = True
    """Write the verdict into the audit log as an ``eval_gate`` entry (when ``audit.vkey`` is
    set)."""
    store: str | None = None
    """Audit store URL (overrides ``audit.store`` and ``MONDAY_DATABASE_URL``)."""

    def for_suite(self, name: str) -> GateRequest:
        """This request with ``{suite}`` in the report paths replaced by ``name``."""

        def sub(path: Path | None) -> Path | None:
            return None if path is None else Path(str(path).replace(SUITE_PLACEHOLDER, name))

        return replace(
            self, junit=sub(self.junit), comment_out=sub(self.comment_out), html=sub(self.html)
        )


class GateObserver(Protocol):
    """Follows a gate as it goes (the CLI renders each step as it happens)."""

    def run_observer(self, suite: SuiteRef) -> RunObserver | None:
        """The observer of the run made for ``suite`` (its progress), or None."""

    def run_finished(self, result: RunResult) -> None:
        """A run made for the gate ended; called before its status is checked."""

    def suite_started(self, name: str) -> None:
        """:func:`gate_all_suites` starts gating the suite ``name``."""

    def suite_finished(self, gate: SuiteGate) -> None:
        """:func:`gate_all_suites` is done with a suite (gated, or stopped by an error)."""


@dataclass
class SuiteGate:
    """One suite's gate: the verdict with the files written and the audit entry, or the error
    that stopped it before a verdict."""

    suite: str
    """The suite's name."""
    exit_code: int
    """0 pass, 1 quality failure, 3 unusable run (or the error's exit code)."""
    result: GateResult | None = None
    """The verdict and what it judged (None when an error stopped the gate)."""
    written: list[Path] = field(default_factory=list)
    """Report files written."""
    audit_idx: int | None = None
    """Index of the ``eval_gate`` entry recording the verdict (None: not recorded)."""
    audit_skipped: bool = False
    """The verdict was to be recorded, but the contract has no audit log (``audit.vkey``)."""
    error: MondayError | None = None
    """What stopped the gate before a verdict (only from :func:`gate_all_suites`)."""

    def to_json(self) -> dict[str, Any]:
        """``gate.json`` plus ``audit_idx``; for a stopped gate, the suite, error and exit code."""
        if self.result is None:
            return {"suite": self.suite, "error": str(self.error), "exit_code": self.exit_code}
        return {**self.result.to_json(), "audit_idx": self.audit_idx}

    def message(self) -> str:
        """The verdict in one line, naming the checks that did not pass (for exit codes 1, 3)."""
        if self.result is None:
            return f"suite {self.suite}: {self.error}"
        verdict = self.result.verdict
        failing = [c.name for c in verdict.checks if c.status.value != "pass"]
        if self.exit_code == 3:
            return (
                f"gate {verdict.status.value}: the run or its baseline is unusable "
                f"({', '.join(failing)})"
            )
        return f"gate {verdict.status.value}: {', '.join(failing)}"

    def raise_for_exit_code(self) -> None:
        """Raise the error the exit code stands for: the stopping error itself,
        :class:`~mondaytest.errors.HarnessError` for 3, :class:`~mondaytest.errors.CheckFailed`
        for 1; nothing for 0."""
        if self.error is not None:
            raise self.error
        if self.exit_code == 3:
            raise HarnessError(
                self.message(), hint="see the checks above; this is not a verdict on quality"
            )
        if self.exit_code == 1:
            raise CheckFailed(self.message())


@dataclass
class AllSuitesGate:
    """Every suite of the contract gated, in the contract's order."""

    suites: dict[str, SuiteGate]
    """Suite name → its gate."""

    @property
    def exit_codes(self) -> dict[str, int]:
        """Suite name → its exit code."""
        return {name: gate.exit_code for name, gate in self.suites.items()}

    @property
    def exit_code(self) -> int:
        """The highest exit code of the suites (0 when every suite passed)."""
        return max(self.exit_codes.values(), default=0)

    def to_json(self) -> dict[str, Any]:
        """``exit_code``, ``suites`` (name → :meth:`SuiteGate.to_json`) and ``exit_codes``."""
        return {
            "exit_code": self.exit_code,
            "suites": {name: gate.to_json() for name, gate in self.suites.items()},
            "exit_codes": self.exit_codes,
        }


def all_suite_names(loaded: LoadedSpec, request: GateRequest) -> list[str]:
    """The suites :func:`gate_all_suites` gates, in the contract's order.

    Refuses (:class:`~mondaytest.errors.InputError`) a request that names one suite's run or
    baseline, or that would make several suites write the same report file, and
    (:class:`~mondaytest.errors.ConfigError`) a contract without suites.
    """
    for flag, value in (("--run", request.run_ref), ("--baseline", request.baseline)):
        if value is not None:
            raise InputError(f"{flag} names one suite's run or baseline; it cannot go with --all")
    names = list(loaded.model.evals.suites)
    if not names:
        raise ConfigError(
            "the contract has no eval suites: --all has nothing to gate (zero suites never pass)",
            field="evals.suites",
            hint="add one under evals.suites (see docs/spec-reference.md)",
        )
    if len(names) > 1:
        for flag, path in (
            ("--junit", request.junit),
            ("--comment-out", request.comment_out),
            ("--html", request.html),
        ):
            if path is not None and SUITE_PLACEHOLDER not in str(path):
                raise InputError(
                    f"{flag} {path}: with --all and {len(names)} suites each suite writes its "
                    "own file",
                    hint=f"put {SUITE_PLACEHOLDER} in the path, e.g. {flag} reports/"
                    f"{SUITE_PLACEHOLDER}" + Path(str(path)).suffix,
                )
    return names


def gate_suite(
    loaded: LoadedSpec,
    suite: SuiteRef,
    request: GateRequest,
    observer: GateObserver | None = None,
) -> SuiteGate:
    """Run ``suite`` (or take ``request.run_ref``) and judge it; write the reports asked for and
    record the verdict in the audit log when asked and the contract has one.

    ``{suite}`` in report paths is not replaced here (see :meth:`GateRequest.for_suite`).
    Raises what stops the gate before a verdict: a run that is not usable
    (:class:`~mondaytest.errors.HarnessError`), a baseline that measures something else
    (:class:`~mondaytest.evals.compare.NotComparableError`), a bad contract or dataset.
    """
    from mondaytest.evals.gating import gate_run
    from mondaytest.evals.report.files import write_reports
    from mondaytest.evals.runner import RunOptions, run_suite_interruptible
    from mondaytest.evals.runs import read_run, resolve_run

    if request.run_ref is not None:
        record = resolve_run(suite.root_dir, request.run_ref, suite.name)
    else:
        options = RunOptions(
            sample=request.sample,
            seed=request.seed,
            cache=request.cache,
            mode="replay" if request.replay else "live",
        )
        progress = observer.run_observer(suite) if observer is not None else None
        result = run_suite_interruptible(suite, options, progress)
        if observer is not None:
            observer.run_finished(result)
        result.raise_for_status()
        record = read_run(result.dir)
    gated = gate_run(suite, record, baseline_file=request.baseline)
    written = write_reports(
        record,
        gated,
        junit=request.junit,
        markdown=request.comment_out,
        html=request.html,
        step_summary=request.step_summary,
        strict=request.strict,
        run_url=request.run_url,
    )
    audit_idx: int | None = None
    skipped = False
    if request.record_evidence:
        from mondaytest.evals.evidence import audit_configured, record_gate_result

        if audit_configured(loaded):
            audit_idx = record_gate_result(
                loaded, gated, strict=request.strict, store=request.store
            )
        else:
            skipped = True
    return SuiteGate(
        suite=suite.name,
        exit_code=gated.verdict.exit_code(strict=request.strict),
        result=gated,
        written=written,
        audit_idx=audit_idx,
        audit_skipped=skipped,
    )


def gate_all_suites(
    loaded: LoadedSpec,
    request: GateRequest,
    observer: GateObserver | None = None,
    *,
    reraise: bool = False,
) -> AllSuitesGate:
    """Gate every suite of the contract, one after another (:func:`gate_suite` with
    ``{suite}`` in report paths replaced by each suite's name).

    A suite that cannot be gated (a :class:`~mondaytest.errors.MondayError`) does not hide the
    others' verdicts: it is kept with its error and exit code, unless ``reraise`` (debugging).
    The request is checked first (:func:`all_suite_names`).
    """
    from mondaytest.evals.suites import suite_from_spec

    names = all_suite_names(loaded, request)
    suites: dict[str, SuiteGate] = {}
    for name in names:
        if observer is not None:
            observer.suite_started(name)
        try:
            ref = suite_from_spec(loaded, name)
            gate = gate_suite(loaded, ref, request.for_suite(name), observer)
        except MondayError as exc:
            if reraise:
                raise
            gate = SuiteGate(suite=name, exit_code=exc.exit_code, error=exc)
        suites[name] = gate
        if observer is not None:
            observer.suite_finished(gate)
    return AllSuitesGate(suites)
