"""Finding a suite in a loaded contract."""

from __future__ import annotations

import difflib
from typing import Any

from mondaytest.errors import ConfigError
from mondaytest.evals.runner import SuiteRef

__all__ = ["suite_from_spec"]


def suite_from_spec(loaded: Any, name: str | None) -> SuiteRef:
    """The :class:`SuiteRef` named ``name`` in a loaded contract (``mondaytest.spec.load_spec``).

    ``name`` may be omitted when the contract has exactly one suite.
    """
    suites = loaded.model.evals.suites
    if not suites:
        raise ConfigError(
            "the contract has no eval suites",
            field="evals.suites",
            hint="add one under evals.suites (see docs/spec-reference.md)",
        )
    if name is None:
        if len(suites) != 1:
            raise ConfigError(
                f"the contract has {len(suites)} suites; name one: {', '.join(sorted(suites))}"
            )
        name = next(iter(suites))
    if name not in suites:
        close = difflib.get_close_matches(name, list(suites), n=1, cutoff=0.6)
        raise ConfigError(
            f"no suite named {name!r}",
            field="evals.suites",
            hint=f"did you mean {close[0]!r}?" if close else f"suites: {', '.join(sorted(suites))}",
        )
    return SuiteRef(
        name=name,
        spec=suites[name],
        root_dir=loaded.root_dir,
        spec_digest=loaded.digest,
        spec_path=loaded.path,
    )
