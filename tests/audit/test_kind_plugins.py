"""Domain kinds arrive through entry points: the log validates them without importing evals."""

from __future__ import annotations

import subprocess
import sys

from mondaytest.audit.entries import KIND_PLUGIN_GROUP, kind_info


def test_fresh_process_sees_the_domains_rich_payloads() -> None:
    code = (
        "import sys\n"
        "from mondaytest.audit.entries import kind_info\n"
        "assert 'mondaytest.evals.evidence' not in sys.modules\n"
        "print(kind_info('eval_gate').model.__name__, kind_info('model_version').model.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["EvalGateEvidence", "ReleasePayload"]


def test_plugin_group_is_declared_by_the_package() -> None:
    from importlib.metadata import entry_points

    names = {p.name for p in entry_points(group=KIND_PLUGIN_GROUP)}
    assert {"eval_gate", "model_version"} <= names
    assert kind_info("model_version").config is True
