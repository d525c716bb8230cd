"""Canonical JSON in Monday's restricted profile.

The profile: objects with ASCII string keys, strings, booleans, null, integers with
``|n| < 2**53`` and arrays, nested at most :data:`MAX_DEPTH` deep. No floats: decimals travel
as strings. In this profile the compact,
sorted ``json.dumps`` output equals RFC 8785 (JCS), so the bytes are canonical and any JCS
implementation reproduces them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from mondaytest.errors import InputError

__all__ = [
    "MAX_DEPTH",
    "MAX_SAFE_INT",
    "ProfileError",
    "canonical_json",
    "check_profile",
    "in_plain_profile",
    "in_profile",
    "plain_value",
    "to_profile",
]

MAX_SAFE_INT = 2**53 - 1

MAX_DEPTH = 64
"""Most containers (objects and arrays) one inside another, the entry's envelope included."""


class ProfileError(InputError):
    """A value is outside the restricted JSON profile."""


def check_profile(value: Any, path: str = "$", depth: int = 0) -> None:
    """Raise :class:`ProfileError` naming the first place where ``value`` leaves the profile.

    ``depth`` is how many containers already enclose ``value`` (nesting is bounded by
    :data:`MAX_DEPTH`, counted from the entry's envelope)."""
    # Fast path: walk the common types without building paths; on any doubt, redo the walk
    # slowly to name the offending place.
    if not _fast_ok(value, depth=depth):
        _check_slow(value, path, depth)


def in_profile(value: Any, depth: int = 0) -> bool:
    """True when ``value`` (inside ``depth`` containers) is inside the profile (quick walk; no
    path is built)."""
    return _fast_ok(value, depth=depth)


def in_plain_profile(value: Any, depth: int = 0) -> bool:
    """:func:`in_profile` for values that must already be plain JSON: dicts, lists, strings,
    ints, bools and None only (a tuple or any other sequence is refused)."""
    return _fast_ok(value, sequences=(list,), depth=depth)


def _scalar_ok(v: Any) -> bool | None:
    """True/False for a scalar inside/outside the profile; None for anything else."""
    t = type(v)
    if t is str or t is bool or v is None:
        return True
    if t is int:
        return bool(-MAX_SAFE_INT <= v <= MAX_SAFE_INT)
    return None


def _fast_ok(value: Any, sequences: tuple[type, ...] = (list, tuple), depth: int = 0) -> bool:
    stack: list[tuple[Any, int]] = [(value, depth)]
    pop, push = stack.pop, stack.append
    while stack:
        v, d = pop()
        t = type(v)
        items: Any
        if t is dict:
            if d >= MAX_DEPTH:
                return False
            for k in v:
                if type(k) is not str or not k.isascii():
                    return False
            items = v.values()
        elif t in sequences:
            if d >= MAX_DEPTH:
                return False
            items = v
        else:
            if not _scalar_ok(v):
                return False
            continue
        for item in items:  # scalars inline; containers go on the stack one level deeper
            ti = type(item)
            if ti is str or ti is bool or item is None:
                continue
            if ti is int:
                if -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
                    continue
                return False
            push((item, d + 1))
    return True


def _check_slow(value: Any, path: str, depth: int = 0) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise ProfileError(
                f"integer {value} is outside ±(2^53-1)",
                field=path,
                hint="store large numbers as decimal strings",
            )
        return
    if isinstance(value, float):
        raise ProfileError(
            f"float {value!r} is not allowed",
            field=path,
            hint='write decimals as strings, e.g. "0.85"',
        )
    container = isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, bytes | bytearray | memoryview)
    )
    if container and depth >= MAX_DEPTH:
        raise ProfileError(
            f"value nests deeper than {MAX_DEPTH} levels",
            field=path,
            hint="flatten the structure, or keep it in the vault and log its commitment",
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProfileError(f"object key {key!r} is not a string", field=path)
            if not key.isascii():
                raise ProfileError(
                    f"object key {key!r} is not ASCII", field=path, hint="use ASCII keys"
                )
            _check_slow(item, f"{path}.{key}", depth + 1)
        return
    if container:
        for i, item in enumerate(value):
            _check_slow(item, f"{path}[{i}]", depth + 1)
        return
    raise ProfileError(
        f"value of type {type(value).__name__} is not JSON", field=path, hint="use str/int/bool"
    )


def to_profile(value: Any) -> Any:
    """Convert plain Python data into the profile: floats and Decimals become decimal strings.

    Tuples become lists; other values pass through unchanged (and are checked later).
    """
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return _decimal_str(Decimal(repr(value)))
    if isinstance(value, Decimal):
        return _decimal_str(value)
    if isinstance(value, Mapping):
        return {str(k): to_profile(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_profile(v) for v in value]
    return value


def _decimal_str(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "") else text


def plain_value(value: Any) -> Any:
    """The plain value msgspec encodes for a profile value of a type it does not take itself
    (its ``enc_hook``): the data of a ``str``/``int`` subclass, a dict of any other mapping, a
    list of any other sequence. :func:`check_profile` accepts these, so they must encode as the
    stdlib encoder did, not raise."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray | memoryview):
        return list(value)
    raise ProfileError(f"value of type {type(value).__name__} is not JSON", hint="use str/int/bool")


_ENCODER = msgspec.json.Encoder(order="sorted", enc_hook=plain_value)
"""Compact, keys sorted, UTF-8 unescaped: byte for byte ``json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` inside the profile (tests check it against that and
against ``rfc8785``), several times faster. Why msgspec: this encoder runs for every audit entry
on the hot path, and the stdlib encoder was a fifth of a decision's cost."""


def canonical_json(value: Any) -> bytes:
    """Return the canonical bytes of ``value``; raise :class:`ProfileError` outside the profile.

    A string that is not valid Unicode (a lone surrogate) is refused too.
    """
    check_profile(value)
    try:
        return _ENCODER.encode(value)
    except UnicodeEncodeError:
        raise ProfileError("a string is not valid UTF-8 (lone surrogate)") from None
