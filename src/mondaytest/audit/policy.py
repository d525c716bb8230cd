"""C2SP transparency-log trust policies (c2sp.org/tlog-policy): parse strictly, check quorums.

A policy file says which logs are trusted, which witnesses are known, and how many of them
must have cosigned a checkpoint before a verifier accepts it::

    # the log, named after its origin
    log monday.example/audit/demo+01db60aa+AbaC04P1…
    witness X1 x1.example/w+1a2b3c4d+BHk…        (cosignature/v1 vkeys, type 0x04)
    witness X2 x2.example/w+5e6f7a8b+BJ0…
    witness Y1 y1.example/w+9c0d1e2f+BCq…
    group X-witnesses 2 X1 X2
    group X-and-Y all X-witnesses Y1
    quorum X-and-Y                                 (or: quorum none)

Rules enforced here, from the spec (C2SP/C2SP ``tlog-policy.md``):

- lines end in a newline (a missing final newline is tolerated); items are separated by spaces
  and tabs only; blank lines and ``#`` comment lines are ignored; the only control characters
  allowed anywhere are tab and newline (so CRLF files are refused);
- ``log <vkey> [<url>]``: an Ed25519 (type ``0x01``) vkey whose key name is the log's origin;
  no two log lines may wrap the same public key;
- ``witness <name> <vkey> [<url>]``: a ``cosignature/v1`` (type ``0x04``) vkey; no two
  witnesses may wrap the same public key;
- ``group <name> all|any|<k> <member>…``: at least one member, ``1 ≤ k ≤ n``; members must be
  defined on *earlier* lines (which rules out cycles); ``none`` cannot be a member; each name
  may be listed as a group member at most once in the whole file, so a witness counts towards
  the quorum in one way only;
- witnesses and groups share one namespace, in which ``none`` is predefined;
- exactly one ``quorum <name>`` line, naming an earlier witness or group, or ``none``.

Names are opaque octet strings (compared byte for byte; non-ASCII bytes are allowed). Every
error names the file and line (and column when it is about one item): :class:`PolicyError`,
exit 2.

:meth:`Policy.check` verifies a signed checkpoint against the policy: a signature by one of the
policy's logs for the checkpoint's origin, then the witness quorum over the ``cosignature/v1``
lines that verify. Cosignatures by keys the policy does not know are ignored; a known key whose
signature fails rejects the note (signed-note rules). When the quorum is not met it raises
:class:`QuorumNotMet` (exit 1) naming what is missing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mondaytest._util.files import read_at_most
from mondaytest.audit.checkpoint import Checkpoint, open_checkpoint, peek_checkpoint
from mondaytest.audit.note import (
    SIG_COSIGNATURE_V1,
    SIG_ED25519,
    Ed25519Verifier,
    NoteError,
    NoteVerifier,
    SignatureError,
    parse_vkey,
)
from mondaytest.errors import CheckFailed, InputError, Location

__all__ = [
    "MAX_POLICY_BYTES",
    "MAX_POLICY_ITEMS",
    "NONE",
    "Policy",
    "PolicyChoice",
    "PolicyError",
    "PolicyGroup",
    "PolicyLog",
    "PolicyResult",
    "PolicyWitness",
    "QuorumNotMet",
    "choose_policy",
    "load_policy",
    "parse_policy",
]

MAX_POLICY_BYTES = 1 << 20
"""Largest policy file accepted, in bytes."""
MAX_POLICY_ITEMS = 1024
"""Most logs, witnesses and groups (each) a policy may define (the spec asks for ≥ 32)."""
NONE = "none"
"""The predefined name of the empty quorum."""

_KEYWORDS = ("log", "witness", "group", "quorum")
_CONTROL_NAMES = {0x0D: "carriage return (Windows line ending)", 0x00: "NUL"}


class PolicyError(InputError):
    """A policy file is malformed; ``location`` names the file and line (exit 2)."""


class QuorumNotMet(CheckFailed):
    """A checkpoint's witness cosignatures do not satisfy the policy's quorum (exit 1).

    ``result`` holds what *was* satisfied (the log signature verified).
    """

    def __init__(self, message: str, *, result: PolicyResult, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result


@dataclass(frozen=True)
class PolicyLog:
    """A trusted log: its Ed25519 verifier (named after the origin) and optional URL."""

    verifier: Ed25519Verifier
    url: str | None
    line: int

    @property
    def origin(self) -> str:
        """The log's origin (its key name)."""
        return self.verifier.name


@dataclass(frozen=True)
class PolicyWitness:
    """A known witness: its policy-local name, ``cosignature/v1`` verifier and optional URL."""

    name: str
    verifier: Ed25519Verifier
    url: str | None
    line: int


@dataclass(frozen=True)
class PolicyGroup:
    """A witness group: satisfied when at least ``threshold`` of its ``members`` are."""

    name: str
    threshold: int
    members: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class PolicyResult:
    """What a checkpoint satisfied under a policy."""

    checkpoint: Checkpoint
    """The verified checkpoint (origin, size, root, verified signatures)."""
    log_keys: tuple[str, ...]
    """vkeys of the policy's logs whose signature verified."""
    quorum: str
    """The policy's quorum name (``none`` when no cosignature is required)."""
    satisfied: bool
    """True when the quorum holds."""
    witnesses: tuple[str, ...]
    """Policy names of the witnesses whose cosignature verified, sorted."""
    groups: tuple[str, ...]
    """Names of the groups satisfied, in file order."""
    cosigned_at: Mapping[str, int] = field(default_factory=dict)
    """Cosignature timestamp (Unix seconds) of each witness in :attr:`witnesses`."""
    ignored: int = 0
    """Signatures by keys the policy does not know (ignored, as the spec requires)."""

    def describe(self) -> str:
        """One line for people: which log, which witnesses, which quorum."""
        cp = self.checkpoint
        wit = ", ".join(_display(w) for w in self.witnesses) or "no known witness"
        verdict = "met" if self.satisfied else "NOT met"
        return (
            f"checkpoint of {cp.origin} at size {cp.size} signed by the log; cosigned by {wit}; "
            f"quorum {_display(self.quorum)} {verdict}"
        )


# --- parsing ------------------------------------------------------------------------------


def _display(name: str) -> str:
    """A name for messages: opaque bytes shown escaped, never raw control characters."""
    raw = name.encode("utf-8", "surrogateescape")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return repr(raw)[2:-1]
    return text if text.isprintable() else repr(text)[1:-1]


@dataclass(frozen=True)
class _Token:
    text: str
    col: int


def _tokens(line: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        start = i
        while i < n and line[i] not in " \t":
            i += 1
        out.append(_Token(line[start:i], start + 1))
    return out


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.logs: list[PolicyLog] = []
        self.witnesses: dict[str, PolicyWitness] = {}
        self.groups: dict[str, PolicyGroup] = {}
        self.defined: dict[str, int] = {}  # name -> line
        self.member_of: dict[str, tuple[str, int]] = {}  # name -> (group, line)
        self.log_keys: dict[bytes, int] = {}
        self.witness_keys: dict[bytes, int] = {}
        self.quorum: tuple[str, int] | None = None

    def error(self, message: str, line: int, col: int = 0, hint: str | None = None) -> PolicyError:
        return PolicyError(message, hint=hint, location=Location(self.source, line, col))

    # -- lines -------------------------------------------------------------------------------

    def parse(self, data: bytes) -> Policy:
        if len(data) > MAX_POLICY_BYTES:
            raise self.error(f"policy file is larger than {MAX_POLICY_BYTES} bytes", 1)
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # the newline ending the last line
        for number, raw in enumerate(lines, 1):
            self.line(number, raw)
        if self.quorum is None:
            raise self.error(
                "policy has no quorum line (reached the end of the file)",
                len(lines) + 1 if lines else 1,
                hint="add `quorum <witness or group>`, or `quorum none` to require no witness",
            )
        return Policy(
            logs=tuple(self.logs),
            witnesses=dict(self.witnesses),
            groups=dict(self.groups),
            quorum=self.quorum[0],
            source=self.source,
        )

    def line(self, number: int, raw: bytes) -> None:
        for pos, byte in enumerate(raw):
            if (byte < 0x20 and byte != 0x09) or byte == 0x7F:
                what = _CONTROL_NAMES.get(byte, f"control character 0x{byte:02x}")
                hint = "save the file with LF line endings" if byte == 0x0D else None
                raise self.error(f"{what} is not allowed in a policy file", number, pos + 1, hint)
        text = raw.decode("utf-8", "surrogateescape")
        tokens = _tokens(text)
        if not tokens or tokens[0].text.startswith("#"):
            return
        keyword = tokens[0]
        if keyword.text == "log":
            self.log_line(number, tokens)
        elif keyword.text == "witness":
            self.witness_line(number, tokens)
        elif keyword.text == "group":
            self.group_line(number, tokens)
        elif keyword.text == "quorum":
            self.quorum_line(number, tokens)
        else:
            raise self.error(
                f"unknown keyword {_display(keyword.text)!r}",
                number,
                keyword.col,
                hint="a policy line starts with " + ", ".join(_KEYWORDS) + ", or # for a comment",
            )

    def vkey(self, number: int, tok: _Token, sig_type: int, role: str) -> Ed25519Verifier:
        try:
            text = tok.text.encode("utf-8", "surrogateescape").decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(f"{role} vkey is not valid UTF-8", number, tok.col) from None
        try:
            verifier = parse_vkey(text)
        except NoteError as exc:
            raise self.error(f"{role} vkey: {exc.message}", number, tok.col, exc.hint) from None
        if verifier.sig_type != sig_type:
            if role == "log":
                hint = "a log signs checkpoints with an Ed25519 key (vkey type 0x01)"
            else:
                hint = "witnesses cosign with cosignature/v1 keys (vkey type 0x04)"
            raise self.error(
                f"{role} vkey has signature type 0x{verifier.sig_type:02x}, "
                f"expected 0x{sig_type:02x}",
                number,
                tok.col,
                hint,
            )
        return verifier

    def url(self, number: int, tokens: Sequence[_Token], at: int, usage: str) -> str | None:
        if len(tokens) > at + 1:
            extra = tokens[at + 1]
            raise self.error(f"too many items; expected `{usage}`", number, extra.col)
        return tokens[at].text if len(tokens) > at else None

    def new_name(self, number: int, tok: _Token, what: str) -> str:
        name = tok.text
        if name == NONE:
            raise self.error(f"{what} cannot be named 'none' (it is predefined)", number, tok.col)
        if name in self.defined:
            raise self.error(
                f"name {_display(name)!r} is already defined on line {self.defined[name]}",
                number,
                tok.col,
                hint="witnesses and groups share one namespace",
            )
        return name

    def count(self, number: int, defined: int, what: str) -> None:
        if defined >= MAX_POLICY_ITEMS:
            raise self.error(f"policy defines more than {MAX_POLICY_ITEMS} {what}", number)

    def log_line(self, number: int, tokens: list[_Token]) -> None:
        usage = "log <vkey> [<url>]"
        if len(tokens) < 2:
            raise self.error(f"log line needs a vkey: `{usage}`", number, tokens[0].col)
        self.count(number, len(self.logs), "logs")
        verifier = self.vkey(number, tokens[1], SIG_ED25519, "log")
        url = self.url(number, tokens, 2, usage)
        earlier = self.log_keys.get(verifier.public_key)
        if earlier is not None:
            raise self.error(
                f"this log key is already listed on line {earlier}", number, tokens[1].col
            )
        self.log_keys[verifier.public_key] = number
        self.logs.append(PolicyLog(verifier, url, number))

    def witness_line(self, number: int, tokens: list[_Token]) -> None:
        usage = "witness <name> <vkey> [<url>]"
        if len(tokens) < 3:
            raise self.error(f"witness line needs a name and a vkey: `{usage}`", number, 1)
        self.count(number, len(self.witnesses), "witnesses")
        name = self.new_name(number, tokens[1], "a witness")
        verifier = self.vkey(number, tokens[2], SIG_COSIGNATURE_V1, "witness")
        url = self.url(number, tokens, 3, usage)
        earlier = self.witness_keys.get(verifier.public_key)
        if earlier is not None:
            raise self.error(
                f"this witness key is already listed on line {earlier}", number, tokens[2].col
            )
        self.witness_keys[verifier.public_key] = number
        self.defined[name] = number
        self.witnesses[name] = PolicyWitness(name, verifier, url, number)

    def group_line(self, number: int, tokens: list[_Token]) -> None:
        usage = "group <name> all|any|<k> <member>..."
        if len(tokens) < 4:
            raise self.error(
                f"group line needs a name, a threshold and at least one member: `{usage}`",
                number,
                1,
            )
        self.count(number, len(self.groups), "groups")
        name = self.new_name(number, tokens[1], "a group")
        members: list[str] = []
        for tok in tokens[3:]:
            member = tok.text
            if member == NONE:
                raise self.error("'none' cannot be a group member", number, tok.col)
            if member not in self.defined:
                raise self.error(
                    f"group member {_display(member)!r} is not defined on an earlier line",
                    number,
                    tok.col,
                    hint="define witnesses and groups before the groups that use them",
                )
            earlier = self.member_of.get(member)
            if earlier is not None:
                raise self.error(
                    f"{_display(member)!r} is already a member of group "
                    f"{_display(earlier[0])!r} (line {earlier[1]})",
                    number,
                    tok.col,
                    hint="each name may be listed as a group member only once",
                )
            self.member_of[member] = (name, number)
            members.append(member)
        n = len(members)
        spec = tokens[2]
        if spec.text == "all":
            k = n
        elif spec.text == "any":
            k = 1
        elif spec.text.isascii() and spec.text.isdigit():
            k = int(spec.text) if len(spec.text) <= 6 else 0  # more digits: beyond any group
            if not 1 <= k <= n:
                shown = spec.text if len(spec.text) <= 12 else spec.text[:12] + "…"
                raise self.error(
                    f"group threshold {shown} is out of range: it needs 1 ≤ k ≤ {n} (the members)",
                    number,
                    spec.col,
                )
        else:
            raise self.error(
                f"group threshold {_display(spec.text)!r} is not all, any or a decimal number",
                number,
                spec.col,
            )
        self.defined[name] = number
        self.groups[name] = PolicyGroup(name, k, tuple(members), number)

    def quorum_line(self, number: int, tokens: list[_Token]) -> None:
        if len(tokens) != 2:
            col = tokens[2].col if len(tokens) > 2 else tokens[0].col
            raise self.error("quorum line must be `quorum <name>`", number, col)
        if self.quorum is not None:
            raise self.error(
                f"second quorum line (the first is on line {self.quorum[1]})",
                number,
                tokens[0].col,
                hint="a policy has exactly one quorum",
            )
        name = tokens[1].text
        if name != NONE and name not in self.defined:
            raise self.error(
                f"quorum {_display(name)!r} is not a witness or group defined on an earlier line",
                number,
                tokens[1].col,
            )
        self.quorum = (name, number)


def parse_policy(data: bytes | str, source: str = "<policy>") -> Policy:
    """Parse policy text; ``source`` names it in errors. Raises :class:`PolicyError`."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    if not isinstance(data, bytes | bytearray):
        raise PolicyError("a policy must be bytes or text", location=Location(source))
    return _Parser(source).parse(bytes(data))


def load_policy(path: Path | str) -> Policy:
    """Read and parse the policy file at ``path`` (:class:`PolicyError` if unreadable too)."""
    p = Path(path)
    try:
        data = read_at_most(p, MAX_POLICY_BYTES)
    except OSError as exc:
        raise PolicyError(
            f"cannot read policy file: {exc.strerror}", location=Location(str(p))
        ) from None
    return parse_policy(data, str(p))


CONTRACT_POLICY = "audit.witness.policy"
"""Where a contract names its trust policy."""


@dataclass(frozen=True)
class PolicyChoice:
    """The policy a command applies and why: ``--policy``, or the contract's."""

    policy: Policy
    path: Path
    """The policy file."""
    source: str
    """``--policy`` or ``audit.witness.policy in <contract>``."""

    def describe(self) -> str:
        """``policy FILE (from …)``, for output."""
        return f"policy {self.path} (from {self.source})"


def choose_policy(
    explicit: Path | str | None, spec: Path | str | None = None, *, use_contract: bool = True
) -> PolicyChoice | None:
    """The trust policy in force: ``explicit`` (``--policy``) wins; otherwise, inside a governed
    project (``spec``, or a ``monday.yaml`` here or in a parent), its ``audit.witness.policy``,
    resolved against the contract's directory. None when neither names one, or when
    ``use_contract`` is false (``--no-policy``).

    Raises :class:`PolicyError` for a policy file that cannot be read or parsed, and the
    contract's own errors when it does not load.
    """
    if explicit is not None:
        return PolicyChoice(load_policy(explicit), Path(explicit), "--policy")
    if not use_contract:
        return None
    from mondaytest.errors import ConfigError
    from mondaytest.spec import find_spec, load_spec

    if spec is None:
        try:
            found = find_spec(None)
        except ConfigError:
            return None  # not inside a governed project
        try:
            loaded = load_spec(found)
        except ConfigError as exc:
            raise ConfigError(
                f"the contract {found} does not load, so its {CONTRACT_POLICY} cannot be "
                f"applied: {ConfigError.__str__(exc)}",
                hint="fix it (`monday spec validate` lists every problem), or pass --policy "
                "FILE or --no-policy",
            ) from None
    else:
        loaded = load_spec(spec)
    ref = loaded.model.audit.witness.policy
    if ref is None:
        return None
    path = Path(ref).expanduser()
    if not path.is_absolute():
        path = loaded.root_dir / path
    with contextlib.suppress(ValueError):  # shown relative to the current directory
        path = Path(os.path.relpath(path))
    source = f"{CONTRACT_POLICY} in {loaded.path.name}"
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        raise PolicyError(
            exc.message,
            location=exc.location,
            hint=exc.hint
            or f"{source} names this file; fix the path, or pass --policy FILE or --no-policy",
        ) from None
    return PolicyChoice(policy, path, source)


# --- the policy ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A parsed trust policy: logs, witnesses, groups and the quorum."""

    logs: tuple[PolicyLog, ...]
    witnesses: Mapping[str, PolicyWitness]
    groups: Mapping[str, PolicyGroup]
    quorum: str
    source: str = "<policy>"

    def log_verifiers(self, origin: str) -> list[Ed25519Verifier]:
        """Verifiers of the policy's logs whose key name is ``origin``."""
        return [log.verifier for log in self.logs if log.verifier.name == origin]

    def witness_verifiers(self) -> list[Ed25519Verifier]:
        """Verifiers of every witness the policy knows."""
        return [w.verifier for w in self.witnesses.values()]

    def verifiers(self, origin: str) -> list[NoteVerifier]:
        """Log keys for ``origin`` plus every witness key: what a receipt verifier trusts."""
        return [*self.log_verifiers(origin), *self.witness_verifiers()]

    @property
    def origins(self) -> tuple[str, ...]:
        """Origins of the logs the policy lists, in file order, without repeats."""
        return tuple(dict.fromkeys(log.origin for log in self.logs))

    def kind_of(self, name: str) -> Literal["witness", "group", "none"] | None:
        """Whether ``name`` is a witness, a group, the predefined ``none``, or undefined."""
        if name == NONE:
            return "none"
        if name in self.witnesses:
            return "witness"
        if name in self.groups:
            return "group"
        return None

    # -- quorum ------------------------------------------------------------------------------

    def satisfied_names(self, cosigned: Iterable[str]) -> set[str]:
        """Every name (witness or group) satisfied when the witnesses ``cosigned`` have cosigned.

        Groups are evaluated in file order, which is a topological order (members come first).
        """
        done = {w for w in cosigned if w in self.witnesses}
        for group in sorted(self.groups.values(), key=lambda g: g.line):
            if sum(1 for m in group.members if m in done) >= group.threshold:
                done.add(group.name)
        return done

    def quorum_met(self, cosigned: Iterable[str]) -> bool:
        """True when the witnesses ``cosigned`` satisfy the quorum."""
        return self.quorum == NONE or self.quorum in self.satisfied_names(cosigned)

    def explain(self, name: str, satisfied: set[str], depth: int = 0) -> str:
        """Why ``name`` is not satisfied, naming the missing members (nested groups inline)."""
        if name in self.witnesses:
            return f"witness {_display(name)} has not cosigned"
        group = self.groups[name]
        have = [m for m in group.members if m in satisfied]
        lacking = [m for m in group.members if m not in satisfied]
        need = group.threshold - len(have)
        head = (
            f"group {_display(name)} needs {group.threshold} of {len(group.members)} "
            f"({', '.join(_display(m) for m in group.members)}) and has {len(have)}"
            + (f" ({', '.join(_display(m) for m in have)})" if have else "")
        )
        if depth >= 3:
            return head
        nested = [self.explain(m, satisfied, depth + 1) for m in lacking if m in self.groups]
        missing = ", ".join(_display(m) for m in lacking)
        tail = f"; {need} more from: {missing}"
        if nested:
            tail += " [" + "; ".join(nested) + "]"
        return head + tail

    def check(
        self,
        note_bytes: bytes,
        *,
        origin: str | None = None,
        log_keys: Sequence[NoteVerifier] = (),
    ) -> PolicyResult:
        """Verify a signed checkpoint against the policy; return what it satisfied.

        The checkpoint must be signed by one of the policy's logs for its origin (or by one of
        ``log_keys``, for a policy that lists no log because the log is known from context),
        and its verified ``cosignature/v1`` lines must satisfy the quorum. ``origin`` pins the
        expected log. Raises :class:`~mondaytest.audit.note.SignatureError` (no trusted log
        signature, or a known key's signature fails), :class:`QuorumNotMet` naming what is
        missing, or a :class:`~mondaytest.audit.note.NoteError` for a malformed note.
        """
        try:
            claimed = peek_checkpoint(note_bytes)
        except NoteError as exc:
            raise NoteError(f"checkpoint: {exc.message}", hint=exc.hint) from None
        want = origin if origin is not None else claimed.origin
        logs = [*self.log_verifiers(want), *log_keys]
        if not logs:
            listed = ", ".join(self.origins) or "none"
            raise SignatureError(
                f"policy {self.source} trusts no log with origin {want!r}",
                hint=f"logs it lists: {listed}; add `log <vkey>` for this log",
            )
        witness_keys = self.witness_verifiers()
        cp = open_checkpoint(note_bytes, [*logs, *witness_keys], origin=origin)
        by_key = {(w.verifier.name, w.verifier.key_id): w.name for w in self.witnesses.values()}
        cosigned: dict[str, int] = {}
        for sig in cp.cosignatures:
            name = by_key.get((sig.name, sig.key_id))
            if name is not None:
                cosigned[name] = sig.timestamp or 0
        log_vkeys = tuple(
            v.vkey
            for v in logs
            if isinstance(v, Ed25519Verifier)
            and any(
                s.name == v.name and s.key_id == v.key_id and s.sig_type == v.sig_type
                for s in cp.log_signatures
            )
        )
        total = len(peek_checkpoint(note_bytes).signatures)
        satisfied = self.satisfied_names(cosigned)
        ok = self.quorum == NONE or self.quorum in satisfied
        result = PolicyResult(
            checkpoint=cp,
            log_keys=log_vkeys,
            quorum=self.quorum,
            satisfied=ok,
            witnesses=tuple(sorted(cosigned)),
            groups=tuple(
                g.name
                for g in sorted(self.groups.values(), key=lambda g: g.line)
                if g.name in satisfied
            ),
            cosigned_at=dict(sorted(cosigned.items())),
            ignored=total - len(cp.signatures),
        )
        if not ok:
            raise QuorumNotMet(
                f"witness quorum {_display(self.quorum)} of {self.source} is not met for "
                f"{cp.origin} at size {cp.size}: {self.explain(self.quorum, satisfied)}",
                result=result,
                hint="get the checkpoint cosigned by the missing witnesses, or fix the policy",
            )
        return result
