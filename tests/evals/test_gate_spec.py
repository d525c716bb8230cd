"""The ``gate:`` block of a suite: shape, defaults, exact decimals, clear refusals."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from mondaytest.spec.evals_gate import GateSpec

EXAMPLE = """\
required: {tags: [critical]}
thresholds:
  label_exact: {min: 0.85, bound: lower95}
regression:
  metrics: [label_exact, grounded]
  margin: 0.02
  alpha: 0.05
  min_effect: 0.01
  inconclusive: warn
budgets:
  error_rate: {max: 0.02}
  cost_usd: {max: 12.5, per_case: 0.01}
  latency_ms: {p95: 2000}
quarantine:
  - {case: claim-0042, reason: "flaky OCR upstream, issue 311", expires: 2026-12-31}
"""


def _yaml(text: str) -> Any:
    return YAML(typ="safe").load(io.StringIO(text))


def _error(data: Any) -> str:
    with pytest.raises(ValidationError) as info:
        GateSpec.model_validate(data)
    return str(info.value)


def test_example_block_loads_with_exact_decimals() -> None:
    spec = GateSpec.model_validate(_yaml(EXAMPLE))
    assert spec.thresholds["label_exact"].min == Decimal("0.85")
    assert spec.thresholds["label_exact"].bound == "lower95"
    assert spec.regression is not None
    assert spec.regression.margin == Decimal("0.02")
    assert spec.regression.min_effect == Decimal("0.01")
    assert spec.budgets.cost_usd is not None
    assert spec.budgets.cost_usd.per_case == Decimal("0.01")
    assert spec.quarantine[0].expires == date(2026, 12, 31)
    assert spec.metrics() == ["label_exact", "grounded"]


def test_defaults() -> None:
    spec = GateSpec()
    assert spec.required.tags == ["critical"]
    assert spec.regression is None
    assert spec.thresholds == {}
    assert spec.budgets.error_rate is None
    reg = GateSpec.model_validate({"regression": {"metrics": ["label"]}}).regression
    assert reg is not None
    assert (reg.margin, reg.alpha, reg.inconclusive, reg.method) == (
        Decimal("0.02"),
        Decimal("0.05"),
        "warn",
        "auto",
    )
    assert reg.effective_min_effect == Decimal("0.01")  # half the margin by default
    assert reg.power == Decimal("0.8")


def test_yaml_float_stays_the_written_decimal() -> None:
    spec = GateSpec.model_validate(_yaml("thresholds: {m: {min: 0.1}}"))
    assert spec.thresholds["m"].min == Decimal("0.1")
    assert spec.thresholds["m"].bound == "lower95"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"thresholds": {"m": {"min": 1.2}}}, "less than or equal to 1"),
        ({"thresholds": {"m": {"min": -0.1}}}, "greater than or equal to 0"),
        ({"thresholds": {"m": {"min": float("nan")}}}, "finite"),
        ({"thresholds": {"m": {"min": 0.9, "bound": "lower80"}}}, "lower95"),
        ({"thresholds": {" ": {"min": 0.9}}}, "metric"),
        ({"thresholds": {"m": {"minimum": 0.9}}}, "Extra inputs are not permitted"),
        ({"regression": {"metrics": []}}, "at least 1 item"),
        ({"regression": {"metrics": ["a", "a"]}}, "metric 'a' is listed twice"),
        ({"regression": {"metrics": ["a"], "margin": 0}}, "greater than 0"),
        ({"regression": {"metrics": ["a"], "alpha": 0.5}}, "less than or equal to 0.2"),
        ({"regression": {"metrics": ["a"], "inconclusive": "maybe"}}, "'warn' or 'fail'"),
        ({"regression": {"metrics": ["a"], "method": "ttest"}}, "mcnemar"),
        (
            {"regression": {"metrics": ["a"], "margin": 0.02, "min_effect": 0.05}},
            "min_effect (0.05) is larger than margin (0.02)",
        ),
        ({"budgets": {"latency_ms": {}}}, "give at least one of p50, p95, p99, max"),
        ({"budgets": {"cost_usd": {}}}, "give max (total) or per_case"),
        ({"budgets": {"error_rate": {"max": 2}}}, "less than or equal to 1"),
        ({"budgets": {"tokens": {"max": 2}}}, "Extra inputs are not permitted"),
        ({"quarantine": [{"case": "c1", "reason": "flaky"}]}, "expires"),
        ({"quarantine": [{"case": "c1", "reason": "  ", "expires": "2030-01-01"}]}, "say why"),
        (
            {
                "quarantine": [
                    {"case": "c1", "reason": "x", "expires": "2030-01-01"},
                    {"case": "c1", "reason": "y", "expires": "2030-01-01"},
                ]
            },
            "quarantined case 'c1' is listed twice",
        ),
        ({"quarantine": [{"case": "c1", "reason": "x", "expires": "soon"}]}, "date"),
        ({"required": {"tags": ["critical", "critical"]}}, "tag 'critical' is listed twice"),
        ({"required": {"tags": [""]}}, "must not be empty"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_malformed_gates_are_refused_clearly(data: Any, needle: str) -> None:
    assert needle in _error(data)


def test_expired_quarantine_helper() -> None:
    spec = GateSpec.model_validate(
        {
            "quarantine": [
                {"case": "old", "reason": "x", "expires": "2026-01-01"},
                {"case": "new", "reason": "y", "expires": "2026-03-01"},
            ]
        }
    )
    assert [q.case for q in spec.expired_quarantine(date(2026, 1, 1))] == []  # last day holds
    assert [q.case for q in spec.expired_quarantine(date(2026, 1, 2))] == ["old"]


def test_every_field_is_documented_in_the_schema() -> None:
    schema = GateSpec.model_json_schema()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                assert "description" in prop, f"{path}.{name} has no description"
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(schema, "gate")
    assert (
        "non-inferiority"
        in schema["$defs"]["RegressionSpec"]["properties"]["margin"]["description"].lower()
    )


def test_spec_is_frozen() -> None:
    spec = GateSpec()
    with pytest.raises(ValidationError):
        spec.regression = None  # type: ignore[misc]
