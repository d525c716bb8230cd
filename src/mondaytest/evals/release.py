"""Releases: the ``model_version`` entry that puts a model in force, bound to its gate verdict.

``monday release record --model ID --version V --suite S`` writes one ``model_version`` state
change into the audit log. It is *bound*: its ``eval_gate_idx`` is the index of the
``eval_gate`` entry (see :mod:`mondaytest.evals.evidence`) that approved the target being
released, so an auditor can walk from the model version in force to the run, the baseline and
the numbers that approved it.

Which verdict approves (:func:`find_approval`):

- the log is searched backwards for ``eval_gate`` entries whose target fingerprint is the one
  released (``--fingerprint``, or the fingerprint the suite's target has now, ``--suite``);
- per suite, the **newest** such verdict decides: a newer failure supersedes an older pass;
- it must be a ``pass`` (an inconclusive verdict exits 0 under ``warn`` but never releases);
- it must have been judged under the contract in force now (same spec digest); when the
  contract changed since, re-judge the run — ``monday eval gate SUITE --run RUN`` scores
  nothing again and records a fresh verdict.

Without an approving verdict the release is refused (:class:`ReleaseRefused`, exit 1) with the
reason, unless a signed **waiver** stands in: a C2SP signed note (:func:`sign_waiver`) whose
text is the line ``monday.release.waiver/1`` and one JSON object (model, version, reason,
approver, issued, expires ≤ 30 days later, optionally suite and target fingerprint), signed
with the Ed25519 key that ``owners`` lists for the approver (``key:`` in ``monday.yaml``). A
valid waiver is written as a ``waiver`` entry first (the signed note in its ``signature``), and
the ``model_version`` entry references it (``waiver_idx``) and says what it waived (``waived``).
Anyone can check the note with the approver's vkey and any signed-note implementation (e.g.
Go's ``golang.org/x/mod/sumdb/note``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mondaytest.audit.entries import (
    Entry,
    Payload,
    SpecRef,
    decode_entry,
    register_kind,
)
from mondaytest.audit.note import (
    Ed25519Signer,
    NoteError,
    SignatureError,
    open_note,
    parse_vkey,
    sign_note,
    split_note,
)
from mondaytest.errors import CheckFailed, ConfigError, InputError, StoreError
from mondaytest.evals import evidence  # noqa: F401 (registers the eval_gate payload)

if TYPE_CHECKING:
    from mondaytest.audit.log import AuditLog
    from mondaytest.audit.writer import Durability
    from mondaytest.spec.loader import LoadedSpec
    from mondaytest.spec.model import MondaySpec
    from mondaytest.spec.people import Person

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_WAIVER_DAYS",
    "MAX_WAIVER_DAYS",
    "WAIVER_HEADER",
    "Approval",
    "GateEntry",
    "InForce",
    "ReleasePayload",
    "ReleaseRecord",
    "ReleaseRefused",
    "SignedWaiver",
    "Waiver",
    "WaiverFormatError",
    "WaiverRejected",
    "check_approver_key",
    "find_approval",
    "gate_entries",
    "models_in_force",
    "parse_waiver",
    "release_model",
    "sign_waiver",
    "target_fingerprint_of",
    "verify_waiver",
]

WAIVER_HEADER = "monday.release.waiver/1"
"""First line of a waiver note's text."""
MAX_WAIVER_DAYS = 30
"""Longest a waiver may be valid, from issue to expiry."""
DEFAULT_WAIVER_DAYS = 7
"""Validity of a waiver signed without an explicit expiry."""
CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a waiver's ``issued`` time may be (clocks differ)."""

_PAGE = 256


class ReleasePayload(Payload):
    """A model version goes into service, bound to the gate verdict (or waiver) behind it.

    A superset of the pre-registered ``ModelVersionPayload``: every payload valid before this
    module is imported stays valid after.
    """

    model: str = Field(min_length=1, max_length=200)
    """Model id."""
    version: str = Field(min_length=1, max_length=200)
    """The version put in force."""
    digest: str | None = None
    """``sha256:<hex>`` of the artefact."""
    previous: str | None = None
    """The version it replaces (from the previous ``model_version`` entry of the model)."""
    eval_gate_idx: int | None = Field(default=None, ge=0)
    """Index of the ``eval_gate`` entry that approved it (the newest, when several suites did)."""
    approval: str | None = None
    """Change request or PR that approved it."""
    suite: str | None = None
    """The suite whose gate approved it, when one suite was named."""
    target: str | None = None
    """The target fingerprint released (what the gate judged)."""
    spec: SpecRef | None = None
    """The contract in force when the release was recorded."""
    eval_gates: list[int] | None = None
    """Every approving ``eval_gate`` entry (one per suite that judged the target)."""
    waiver_idx: int | None = Field(default=None, ge=0)
    """Index of the ``waiver`` entry that stands in for a passing gate."""
    waived: str | None = None
    """Why no gate approved it, when a waiver stands in."""


register_kind("model_version", ReleasePayload, config=True, replace=True)


class ReleaseRefused(CheckFailed):
    """No passing gate verdict approves the release, and no valid waiver was given (exit 1)."""


class WaiverFormatError(InputError):
    """A waiver file is not a well-formed signed waiver (exit 2)."""


class WaiverRejected(CheckFailed):
    """A waiver is well formed but does not hold: signer, approver, expiry, coverage (exit 1)."""


# --------------------------------------------------------------------------------------------
# Gate verdicts in the log


@dataclass(frozen=True)
class GateEntry:
    """An ``eval_gate`` entry read back from the log (lenient about older, thinner payloads)."""

    idx: int
    """Index in the log."""
    ts: str
    """When it was recorded."""
    suite: str
    """Suite name."""
    run: str
    """Judged run id."""
    result: str
    """``pass``, ``fail``, ``inconclusive`` or ``error``."""
    exit_code: int | None
    """Exit code the gate gave."""
    fingerprint: str | None
    """Target fingerprint judged."""
    spec_digest: str | None
    """Contract digest it was judged under."""
    git_commit: str | None
    """Git commit of the run."""
    git_dirty: bool | None
    """Whether the run's working tree was dirty."""
    payload: dict[str, Any] = field(repr=False)
    """The whole payload."""

    @classmethod
    def from_entry(cls, entry: Entry) -> GateEntry:
        """Read an ``eval_gate`` entry."""
        p = entry.payload
        target = p.get("target") if isinstance(p.get("target"), Mapping) else {}
        spec = p.get("spec") if isinstance(p.get("spec"), Mapping) else {}
        git = p.get("git") if isinstance(p.get("git"), Mapping) else {}
        assert isinstance(target, Mapping)
        assert isinstance(spec, Mapping)
        assert isinstance(git, Mapping)
        code = p.get("exit_code")
        return cls(
            idx=entry.idx,
            ts=entry.ts,
            suite=str(p.get("suite", "?")),
            run=str(p.get("run", "?")),
            result=str(p.get("result", "?")),
            exit_code=code if isinstance(code, int) else None,
            fingerprint=_text(target.get("fingerprint")),
            spec_digest=_text(spec.get("digest")),
            git_commit=_text(git.get("commit")) or _text(spec.get("commit")),
            git_dirty=git.get("dirty") if isinstance(git.get("dirty"), bool) else None,
            payload=dict(p),
        )

    @property
    def passed(self) -> bool:
        """True for a pass."""
        return self.result == "pass"

    def describe(self) -> str:
        """``entry 12 (suite triage, run …, fail, exit 1)``."""
        code = f", exit {self.exit_code}" if self.exit_code is not None else ""
        return f"entry {self.idx} (suite {self.suite}, run {self.run}, {self.result}{code})"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _json_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _entries_of(log: AuditLog, kind: str, text: str | None) -> Iterator[Entry]:
    """Entries of ``kind`` (containing ``text``), newest first, a page at a time."""
    before: int | None = None
    while True:
        rows = log.store.search(kind=kind, text=text, before=before, limit=_PAGE)
        for row in rows:
            yield decode_entry(row.body, full_check=False)
        if len(rows) < _PAGE:
            return
        before = rows[-1].idx


def gate_entries(
    log: AuditLog, *, fingerprint: str | None = None, suite: str | None = None
) -> Iterator[GateEntry]:
    """``eval_gate`` entries, newest first, of one target fingerprint and/or one suite."""
    if fingerprint is not None:
        text: str | None = f'"fingerprint":{_json_text(fingerprint)}'
    elif suite is not None:
        text = f'"suite":{_json_text(suite)}'
    else:
        text = None
    for entry in _entries_of(log, "eval_gate", text):
        gate = GateEntry.from_entry(entry)
        if fingerprint is not None and gate.fingerprint != fingerprint:
            continue
        if suite is not None and gate.suite != suite:
            continue
        yield gate


@dataclass(frozen=True)
class Approval:
    """What the log says about releasing one target fingerprint."""

    fingerprint: str
    """The target fingerprint."""
    gates: tuple[GateEntry, ...]
    """The newest verdict of each suite that judged it, newest first."""
    problem: str | None
    """Why they do not approve (None: they do)."""
    notes: tuple[str, ...] = ()
    """Worth saying either way (a dirty working tree …)."""

    @property
    def approved(self) -> bool:
        """True when the gates approve the release."""
        return self.problem is None

    @property
    def gate(self) -> GateEntry | None:
        """The newest deciding verdict."""
        return self.gates[0] if self.gates else None


def find_approval(
    log: AuditLog, *, fingerprint: str, spec_digest: str | None, suite: str | None = None
) -> Approval:
    """Whether the gate approves releasing ``fingerprint`` under the contract ``spec_digest``.

    Per suite (only ``suite`` when given) the newest ``eval_gate`` entry for the fingerprint
    decides; each must be a pass judged under ``spec_digest``. See the module docstring.
    """
    latest: dict[str, GateEntry] = {}
    older_pass: dict[str, GateEntry] = {}
    for gate in gate_entries(log, fingerprint=fingerprint, suite=suite):
        if gate.suite not in latest:
            latest[gate.suite] = gate
        elif gate.passed and gate.suite not in older_pass:
            older_pass[gate.suite] = gate
    short = _short(fingerprint)
    if not latest:
        return Approval(fingerprint, (), _no_gate_problem(log, fingerprint, suite))
    gates = tuple(sorted(latest.values(), key=lambda g: g.idx, reverse=True))
    problems: list[str] = []
    notes: list[str] = []
    for gate in gates:
        if not gate.passed:
            what = {"fail": "failed", "inconclusive": "was inconclusive"}.get(
                gate.result, f"ended in {gate.result!r}"
            )
            text = f"the gate of suite {gate.suite} {what} for target {short} at {gate.describe()}"
            if gate.result == "inconclusive":
                text += (
                    "; a release needs a pass (non-inferiority shown), not the absence of a fail"
                )
            older = older_pass.get(gate.suite)
            if older is not None:
                text += f" (it supersedes the pass at entry {older.idx})"
            problems.append(text)
        elif gate.spec_digest is None:
            problems.append(
                f"the passing gate at {gate.describe()} does not record the contract's digest"
            )
        elif spec_digest is not None and gate.spec_digest != spec_digest:
            problems.append(
                f"the passing gate at {gate.describe()} judged under contract "
                f"{_short(gate.spec_digest)}, but the contract now is {_short(spec_digest)}: "
                f"re-judge the run under the current contract with "
                f"`monday eval gate {gate.suite} --run {gate.run}`"
            )
        if gate.git_dirty:
            notes.append(
                f"the run approved at entry {gate.idx} was made from a dirty working tree "
                f"(commit {gate.git_commit or 'unknown'} plus uncommitted changes)"
            )
    return Approval(fingerprint, gates, "; ".join(problems) or None, tuple(notes))


def _no_gate_problem(log: AuditLog, fingerprint: str, suite: str | None) -> str:
    short = _short(fingerprint)
    other = next(iter(gate_entries(log, suite=suite)), None)
    if other is None:
        scope = f" of suite {suite}" if suite else ""
        return (
            f"no eval gate verdict{scope} is in the audit log: run `monday eval gate"
            f"{' ' + suite if suite else ''}` (with the audit log set up) before releasing"
        )
    return (
        f"no gate verdict judged target fingerprint {short}; the newest gate"
        f"{' of suite ' + suite if suite else ''} ({other.describe()}) judged target "
        f"{_short(other.fingerprint or 'unknown')} — the target changed since it was gated: "
        f"run `monday eval gate {other.suite}` on what you release"
    )


def _short(digest: str) -> str:
    text = digest.removeprefix("sha256:")
    return text[:12] + "…" if len(text) > 12 else text


# --------------------------------------------------------------------------------------------
# Waivers


class _WaiverDoc(BaseModel):
    """The JSON object of a waiver note."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    model: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=1000)
    approver: str = Field(min_length=1, max_length=100)
    issued: str
    expires: str
    suite: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class Waiver:
    """A release waiver: who allows which model version in force without a passing gate, why,
    until when."""

    model: str
    """Model id it covers."""
    version: str
    """Version it covers."""
    reason: str
    """Why the release goes ahead without a passing gate."""
    approver: str
    """Person id in ``owners`` whose key signs it."""
    issued: datetime
    """When it was signed (UTC)."""
    expires: datetime
    """When it lapses (UTC); at most :data:`MAX_WAIVER_DAYS` after ``issued``."""
    suite: str | None = None
    """The suite it covers, when it is limited to one."""
    fingerprint: str | None = None
    """The target fingerprint it covers, when it is limited to one."""

    def to_json(self) -> dict[str, Any]:
        """The waiver's JSON object (timestamps RFC 3339 UTC, no fractional seconds)."""
        data: dict[str, Any] = {
            "model": self.model,
            "version": self.version,
            "reason": self.reason,
            "approver": self.approver,
            "issued": _rfc3339(self.issued),
            "expires": _rfc3339(self.expires),
        }
        if self.suite is not None:
            data["suite"] = self.suite
        if self.fingerprint is not None:
            data["fingerprint"] = self.fingerprint
        return data

    def note_text(self) -> str:
        """The text that is signed: the header line and the canonical JSON object."""
        body = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return f"{WAIVER_HEADER}\n{body}\n"

    @property
    def target(self) -> str:
        """What it waives, as a ``waiver`` entry names it: ``release:<model>@<version>``."""
        return f"release:{self.model}@{self.version}"


@dataclass(frozen=True)
class SignedWaiver:
    """A waiver whose signature, approver, expiry and coverage were checked."""

    waiver: Waiver
    """The waiver."""
    note: bytes
    """The signed note exactly as given."""
    key: str
    """``name+keyid`` of the key that signed it."""


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise WaiverFormatError(
            f"the waiver's {what} {text!r} is not an RFC 3339 time",
            hint="e.g. 2026-12-01T09:00:00Z",
            field=what,
        ) from None
    if moment.tzinfo is None:
        raise WaiverFormatError(
            f"the waiver's {what} {text!r} has no time zone", hint="end it in Z", field=what
        )
    return moment.astimezone(UTC)


def _now(now: datetime | None) -> datetime:
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC)


def check_approver_key(spec: MondaySpec, approver: str, signer: Ed25519Signer) -> None:
    """Refuse (exit 2) unless ``approver`` is in ``owners`` with ``signer``'s key as their ``key``.

    Called before signing so a wrong key fails at once; :func:`verify_waiver` checks the same
    when the waiver is used, so a waiver signed without this check is still refused then.
    """
    person = next((p for p in spec.owners.everyone() if p.id == approver), None)
    if person is None:
        known = ", ".join(p.id for p in spec.owners.everyone())
        raise InputError(f"approver {approver!r} is not in owners", hint=f"owners: {known}")
    if person.key is None:
        raise InputError(
            f"{approver} has no signing key in monday.yaml",
            hint=f"add your vkey as `key:` of {approver} under owners "
            f"(`monday audit keygen --out FILE --origin {approver}` prints it)",
        )
    try:
        expected = parse_vkey(person.key)
    except NoteError as exc:
        raise InputError(f"the key of {approver} in owners is malformed: {exc.message}") from None
    if (expected.name, expected.public_key) != (signer.name, signer.public_key):
        raise InputError(
            f"the signing key ({signer.name}+{signer.key_id.hex()}) is not {approver}'s key in "
            f"monday.yaml ({expected.name}+{expected.key_id.hex()})",
            hint="sign with the key whose vkey owners lists for you",
        )


def sign_waiver(
    signer: Ed25519Signer,
    *,
    model: str,
    version: str,
    reason: str,
    approver: str,
    expires: datetime | None = None,
    days: int | None = None,
    suite: str | None = None,
    fingerprint: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """A signed waiver note (bytes to write to a file and pass to ``--waiver``).

    ``expires`` (or ``days`` from now; default :data:`DEFAULT_WAIVER_DAYS`) must lie within
    :data:`MAX_WAIVER_DAYS`. The signer should be the approver's key (its vkey is the
    approver's ``key`` in ``owners``); that is checked when the waiver is used.
    """
    issued = _now(now).replace(microsecond=0)
    if expires is not None and days is not None:
        raise InputError("give either an expiry time or a number of days, not both")
    if expires is None:
        expires = issued + timedelta(days=DEFAULT_WAIVER_DAYS if days is None else days)
    elif expires.tzinfo is None:
        raise InputError("the expiry needs a time zone (e.g. 2026-12-01T09:00:00Z)")
    expires = expires.astimezone(UTC).replace(microsecond=0)
    if expires <= issued:
        raise InputError(f"the waiver would expire at {_rfc3339(expires)}, before it is issued")
    if expires - issued > timedelta(days=MAX_WAIVER_DAYS):
        raise InputError(
            f"a waiver is valid for at most {MAX_WAIVER_DAYS} days; "
            f"{_rfc3339(expires)} is {(expires - issued).days} days away",
            hint="sign a new one when it lapses",
        )
    try:
        doc = _WaiverDoc(
            model=model,
            version=version,
            reason=reason,
            approver=approver,
            issued=_rfc3339(issued),
            expires=_rfc3339(expires),
            suite=suite,
            fingerprint=fingerprint,
        )
    except ValidationError as exc:
        raise InputError(f"cannot sign the waiver: {_first_error(exc)}") from None
    waiver = Waiver(
        model=doc.model,
        version=doc.version,
        reason=doc.reason,
        approver=doc.approver,
        issued=issued,
        expires=expires,
        suite=suite,
        fingerprint=fingerprint,
    )
    return sign_note(waiver.note_text(), [signer])


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    return f"{loc}: {first['msg']}" if loc else str(first["msg"])


def parse_waiver(data: bytes, *, source: str = "the waiver") -> Waiver:
    """Parse a waiver note's structure (nothing verified); :class:`WaiverFormatError` if it is
    not one."""
    try:
        text, _sigs = split_note(data)
    except NoteError as exc:
        raise WaiverFormatError(
            f"{source} is not a signed note: {exc.message}",
            hint="create one with `monday release waiver sign`",
        ) from None
    lines = text.split("\n")
    if len(lines) != 3 or lines[0] != WAIVER_HEADER:
        raise WaiverFormatError(
            f"{source} is a signed note but not a release waiver: its text must be the line "
            f"{WAIVER_HEADER!r} followed by one JSON object",
            hint="create one with `monday release waiver sign`",
        )
    try:
        raw = json.loads(lines[1])
    except ValueError as exc:
        raise WaiverFormatError(f"{source}: the waiver's JSON is malformed: {exc}") from None
    if not isinstance(raw, dict):
        raise WaiverFormatError(f"{source}: the waiver's JSON is not an object")
    try:
        doc = _WaiverDoc.model_validate(raw)
    except ValidationError as exc:
        raise WaiverFormatError(f"{source}: {_first_error(exc)}") from None
    return Waiver(
        model=doc.model,
        version=doc.version,
        reason=doc.reason,
        approver=doc.approver,
        issued=_parse_time(doc.issued, "issued"),
        expires=_parse_time(doc.expires, "expires"),
        suite=doc.suite,
        fingerprint=doc.fingerprint,
    )


def _person(spec: MondaySpec, person_id: str) -> Person | None:
    for person in spec.owners.everyone():
        if person.id == person_id:
            return person
    return None


def verify_waiver(
    data: bytes,
    spec: MondaySpec,
    *,
    model: str,
    version: str,
    suite: str | None = None,
    fingerprint: str | None = None,
    now: datetime | None = None,
    source: str = "the waiver",
) -> SignedWaiver:
    """Check a waiver for releasing ``model`` ``version``: signed by its approver's key from
    ``owners``, not expired, valid ≤ 30 days, covering this model version (and suite and
    fingerprint, when it names them).

    Raises :class:`WaiverFormatError` (exit 2) for a malformed file and
    :class:`WaiverRejected` (exit 1) for a waiver that does not hold.
    """
    waiver = parse_waiver(data, source=source)
    person = _person(spec, waiver.approver)
    if person is None:
        known = ", ".join(p.id for p in spec.owners.everyone())
        raise WaiverRejected(
            f"{source} is approved by {waiver.approver!r}, who is not in owners",
            hint=f"owners: {known}",
        )
    if person.key is None:
        raise WaiverRejected(
            f"the approver {person.id!r} has no signing key in monday.yaml",
            hint=f"add their vkey as `key:` of {person.id} under owners "
            f"(`monday audit keygen --out FILE --origin {person.id}` prints one)",
        )
    try:
        verifier = parse_vkey(person.key)
    except NoteError as exc:
        raise ConfigError(
            f"the key of {person.id!r} is not a valid vkey: {exc.message}", field="owners"
        ) from None
    try:
        note = open_note(data, [verifier])
    except SignatureError as exc:
        raise WaiverRejected(
            f"{source} is not signed by its approver {person.id!r} "
            f"(key {verifier.name}+{verifier.key_id.hex()}): {exc.message}",
            hint=exc.hint,
        ) from None
    except NoteError as exc:
        raise WaiverFormatError(f"{source}: {exc.message}") from None
    moment = _now(now)
    if waiver.expires - waiver.issued > timedelta(days=MAX_WAIVER_DAYS):
        raise WaiverRejected(
            f"{source} is valid for {(waiver.expires - waiver.issued).days} days "
            f"(issued {_rfc3339(waiver.issued)}, expires {_rfc3339(waiver.expires)}); "
            f"at most {MAX_WAIVER_DAYS} are allowed"
        )
    if waiver.issued > moment + CLOCK_SKEW:
        raise WaiverRejected(f"{source} is issued in the future ({_rfc3339(waiver.issued)})")
    if waiver.expires <= moment:
        raise WaiverRejected(
            f"{source} expired at {_rfc3339(waiver.expires)}",
            hint="the approver signs a new one with `monday release waiver sign`",
        )
    if (waiver.model, waiver.version) != (model, version):
        raise WaiverRejected(
            f"{source} covers model {waiver.model} version {waiver.version}, "
            f"not {model} version {version}"
        )
    if waiver.suite is not None and waiver.suite != suite:
        which = f"suite {suite}" if suite is not None else "no suite (name it with --suite)"
        raise WaiverRejected(
            f"{source} covers suite {waiver.suite} only; the release names {which}"
        )
    if (
        waiver.fingerprint is not None
        and fingerprint is not None
        and waiver.fingerprint != fingerprint
    ):
        raise WaiverRejected(
            f"{source} covers target fingerprint {_short(waiver.fingerprint)}, "
            f"not {_short(fingerprint)}"
        )
    sig = note.signatures[0]
    return SignedWaiver(waiver, bytes(data), f"{sig.name}+{sig.key_id.hex()}")


# --------------------------------------------------------------------------------------------
# Releasing


@dataclass(frozen=True)
class ReleaseRecord:
    """A recorded release."""

    idx: int
    """Index of the ``model_version`` entry."""
    payload: ReleasePayload
    """What it says."""
    approval: Approval
    """The gate verdicts considered."""
    waiver: SignedWaiver | None = None
    """The waiver that stood in, if one did."""
    waiver_idx: int | None = None
    """Index of the ``waiver`` entry."""
    notes: tuple[str, ...] = ()
    """Things worth saying."""

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``--format json``."""
        gate = self.approval.gate
        return {
            "idx": self.idx,
            "model_version": self.payload.model_dump(mode="json", exclude_none=True),
            "eval_gate": None if gate is None else _gate_json(gate),
            "waiver_idx": self.waiver_idx,
            "waiver": None if self.waiver is None else self.waiver.waiver.to_json(),
            "notes": list(self.notes),
        }


def _gate_json(gate: GateEntry) -> dict[str, Any]:
    return {
        "idx": gate.idx,
        "ts": gate.ts,
        "suite": gate.suite,
        "run": gate.run,
        "result": gate.result,
        "exit_code": gate.exit_code,
        "fingerprint": gate.fingerprint,
        "spec_digest": gate.spec_digest,
        "git_commit": gate.git_commit,
        "git_dirty": gate.git_dirty,
    }


def target_fingerprint_of(spec: LoadedSpec, suite: str | None) -> str:
    """The fingerprint the suite's target has now (what a run of it would record).

    Builds the target without starting it: a Python target's module is imported to hash its
    source; a replay target reports the recorded target's fingerprint.
    """
    from mondaytest.evals.suites import suite_from_spec
    from mondaytest.evals.targets.build import build_target
    from mondaytest.evals.targets.interface import TargetContext

    ref = suite_from_spec(spec, suite)
    target = build_target(ref.spec.target, TargetContext(ref.root_dir))
    if not target.info.fingerprint:
        raise ConfigError(
            f"the target of suite {ref.name} has no fingerprint",
            hint="pass --fingerprint from the gated run's run.json (target.fingerprint)",
        )
    return target.info.fingerprint


def _previous_version(log: AuditLog, model: str) -> tuple[str | None, int | None]:
    for entry in _entries_of(log, "model_version", f'"model":{_json_text(model)}'):
        if entry.payload.get("model") == model:
            version = entry.payload.get("version")
            return (version if isinstance(version, str) else None), entry.idx
    return None, None


def release_model(
    log: AuditLog,
    spec: LoadedSpec,
    *,
    model_id: str,
    version: str,
    target_fingerprint: str | None = None,
    suite: str | None = None,
    waiver: bytes | None = None,
    digest: str | None = None,
    approval: str | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> ReleaseRecord:
    """Put ``model_id`` ``version`` in force: write its ``model_version`` entry, bound to the
    approving ``eval_gate`` entry, or to a ``waiver`` entry written first when a valid signed
    ``waiver`` stands in. See the module docstring for the rules.

    ``target_fingerprint`` defaults to the fingerprint ``suite``'s target has now; one of the
    two is required. Raises :class:`ReleaseRefused` (exit 1) when nothing approves,
    :class:`WaiverRejected` (exit 1) or :class:`WaiverFormatError` (exit 2) for a bad waiver.
    Nothing is written unless the release goes ahead.
    """
    if target_fingerprint is None and suite is None:
        raise InputError(
            "say what is released: --suite (its target as it is now) or --fingerprint",
            hint="the target fingerprint is in run.json (target.fingerprint) of the gated run",
        )
    if suite is not None:
        from mondaytest.evals.suites import suite_from_spec

        suite = suite_from_spec(spec, suite).name  # a ConfigError for an unknown suite
    fingerprint = target_fingerprint or target_fingerprint_of(spec, suite)
    fingerprint = fingerprint.strip()
    if not fingerprint:
        raise InputError("the target fingerprint is empty")
    from mondaytest.spec.provenance import git_info

    spec_ref = SpecRef(digest=spec.digest, commit=git_info(spec.root_dir).commit)
    found = find_approval(log, fingerprint=fingerprint, spec_digest=spec.digest, suite=suite)
    previous, previous_idx = _previous_version(log, model_id)
    notes = list(found.notes)
    if previous == version:
        notes.append(
            f"{model_id} {version} is already in force (entry {previous_idx}); recorded again"
        )
    base: dict[str, Any] = {
        "model": model_id,
        "version": version,
        "digest": digest,
        "previous": previous,
        "approval": approval,
        "suite": suite,
        "target": fingerprint,
        "spec": spec_ref,
    }
    signed: SignedWaiver | None = None
    if found.approved:
        gates = found.gates
        payload = ReleasePayload(
            **base,
            eval_gate_idx=gates[0].idx,
            eval_gates=[g.idx for g in gates] if len(gates) > 1 else None,
        )
        if waiver is not None:
            notes.append("a waiver was given but the gate approves the release; it was not used")
    else:
        assert found.problem is not None
        if waiver is None:
            raise ReleaseRefused(
                f"cannot release {model_id} {version}: {found.problem}",
                hint="fix what the gate found and gate again, or have an owner sign a waiver "
                "(`monday release waiver sign`) and pass it with --waiver",
            )
        signed = verify_waiver(
            waiver,
            spec.model,
            model=model_id,
            version=version,
            suite=suite,
            fingerprint=fingerprint,
            now=now,
        )
        payload = ReleasePayload(**base, waiver_idx=0, waived=found.problem[:2000])
    log.draft("model_version", payload, actor=actor)  # validate before writing anything
    durability: Durability = "published" if log.config.durability == "published" else "sequenced"
    waiver_idx: int | None = None
    if signed is not None:
        w = signed.waiver
        waiver_payload = {
            "action": "grant",
            "target": w.target,
            "reason": w.reason,
            "approver": w.approver,
            "expires": _rfc3339(w.expires),
            "signature": signed.note.decode("utf-8"),
        }
        waiver_idx = _required(
            log.append("waiver", waiver_payload, actor=actor, durability=durability), "waiver"
        )
        payload = payload.model_copy(update={"waiver_idx": waiver_idx})
    idx = _required(
        log.append("model_version", payload, actor=actor, durability=durability), "model_version"
    )
    return ReleaseRecord(idx, payload, found, signed, waiver_idx, tuple(notes))


def _required(idx: int | None, kind: str) -> int:
    if idx is None:
        raise StoreError(
            f"the {kind} entry could not be written to the audit log (fail_mode: open)",
            hint="fix the store and record the release again",
        )
    return idx


# --------------------------------------------------------------------------------------------
# What is in force


@dataclass(frozen=True)
class InForce:
    """A model's version in force: its newest ``model_version`` entry and what approved it."""

    model: str
    """Model id."""
    version: str
    """Version in force."""
    idx: int
    """Index of the ``model_version`` entry."""
    ts: str
    """When it was recorded."""
    payload: dict[str, Any]
    """The entry's payload."""
    gate: GateEntry | None
    """The ``eval_gate`` entry it is bound to."""
    waiver: dict[str, Any] | None
    """The ``waiver`` entry's payload, when a waiver stood in."""
    problems: tuple[str, ...] = ()
    """What does not add up (a referenced entry missing or of another kind)."""

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "model": self.model,
            "version": self.version,
            "idx": self.idx,
            "ts": self.ts,
            "model_version": self.payload,
            "eval_gate": None if self.gate is None else _gate_json(self.gate),
            "waiver": self.waiver,
            "problems": list(self.problems),
        }


def _referenced(log: AuditLog, idx: Any, kind: str, problems: list[str]) -> Entry | None:
    if not isinstance(idx, int) or isinstance(idx, bool):
        return None
    if idx >= log.size():
        problems.append(f"it references {kind} entry {idx}, beyond the end of the log")
        return None
    entry = log.entry(idx)
    if entry.kind != kind:
        problems.append(f"it references entry {idx} as {kind}, but that entry is {entry.kind}")
        return None
    return entry


def models_in_force(log: AuditLog, model_id: str | None = None) -> list[InForce]:
    """The version in force of every model (or of ``model_id``), by model id."""
    text = f'"model":{_json_text(model_id)}' if model_id is not None else None
    seen: dict[str, InForce] = {}
    for entry in _entries_of(log, "model_version", text):
        model = entry.payload.get("model")
        if not isinstance(model, str) or model in seen:
            continue
        if model_id is not None and model != model_id:
            continue
        problems: list[str] = []
        gate_entry = _referenced(log, entry.payload.get("eval_gate_idx"), "eval_gate", problems)
        waiver_entry = _referenced(log, entry.payload.get("waiver_idx"), "waiver", problems)
        if gate_entry is None and waiver_entry is None and not problems:
            problems.append("it is bound to no eval gate verdict and no waiver")
        seen[model] = InForce(
            model=model,
            version=str(entry.payload.get("version", "?")),
            idx=entry.idx,
            ts=entry.ts,
            payload=dict(entry.payload),
            gate=GateEntry.from_entry(gate_entry) if gate_entry is not None else None,
            waiver=dict(waiver_entry.payload) if waiver_entry is not None else None,
            problems=tuple(problems),
        )
        if model_id is not None:
            break
    return sorted(seen.values(), key=lambda f: f.model)
