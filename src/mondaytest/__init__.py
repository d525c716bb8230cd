"""Monday: take an AI system from live to shipped.

The short public API::

    import mondaytest

    with mondaytest.connect() as log:          # the audit log of ./monday.yaml
        idx = log.decision(decision="triage", outcome={"label": "standard"},
                           subject_id=customer_id, raw={"input": claim, "output": answer})
        receipt = log.receipt(idx)             # a C2SP tlog-proof anyone can verify offline

    spec = mondaytest.load_spec()              # the validated contract

Everything else is reached through its subpackage (``mondaytest.audit``, ``mondaytest.evals``,
``mondaytest.spec``). Heavy subpackages load on first use, so ``import mondaytest`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mondaytest.errors import CheckFailed, ConfigError, InputError, MondayError

__version__ = "0.1.0"

__all__ = [
    "CheckFailed",
    "ConfigError",
    "InputError",
    "MondayError",
    "__version__",
    "connect",
    "load_spec",
]

if TYPE_CHECKING:
    from mondaytest.audit.log import open_log as connect
    from mondaytest.spec.loader import load_spec


def __getattr__(name: str) -> Any:
    if name == "connect":
        from mondaytest.audit.log import open_log

        return open_log
    if name == "load_spec":
        from mondaytest.spec.loader import load_spec

        return load_spec
    raise AttributeError(f"module 'mondaytest' has no attribute {name!r}")
