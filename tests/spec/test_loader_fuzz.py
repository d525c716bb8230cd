"""Whatever bytes a contract holds, loading ends in a model or a ConfigError, never a crash."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.conftest import VALID_SPEC, write_project

from mondaytest.errors import ConfigError
from mondaytest.spec import load_spec

yaml_ish = st.text(
    alphabet=st.sampled_from([*"abc: -[]{}&*!|>'\"#%@`,?\n\t 0123456789.+", "\x00", "é"]),
    max_size=200,
)


def _check(tmp_path: Path, data: bytes) -> None:
    spec = write_project(tmp_path)
    spec.write_bytes(data)
    try:
        load_spec(spec)
    except ConfigError as exc:
        problem = exc
    else:
        return
    assert str(problem)
    assert problem.exit_code == 2


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=yaml_ish)
@example(text="a: !!python/object:os.system ls\n")
@example(text="? [a, b]\n: c\n")
@example(text="version: 1\n---\nversion: 1\n")
@example(text="&a [*a]\n")
def test_random_yaml_never_crashes(tmp_path: Path, text: str) -> None:
    _check(tmp_path, text.encode("utf-8"))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_random_bytes_never_crash(tmp_path: Path, data: bytes) -> None:
    _check(tmp_path, data)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(0, len(VALID_SPEC)), junk=st.sampled_from(["", ":", "- x", "{", "]", "\t"]))
def test_truncated_or_spliced_contract_never_crashes(tmp_path: Path, cut: int, junk: str) -> None:
    _check(tmp_path, (VALID_SPEC[:cut] + junk + VALID_SPEC[cut:][: len(VALID_SPEC) // 3]).encode())
