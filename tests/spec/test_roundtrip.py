"""Model → YAML → model round-trips, and the digest is a stable function of the contract."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from tests.conftest import write_project

from mondaytest.spec import load_spec
from mondaytest.spec.digest import resolved_data

ids = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() == s and s.strip())


@st.composite
def contracts(draw: st.DrawFn) -> dict[str, Any]:
    people = draw(st.lists(ids, min_size=2, max_size=5, unique=True))
    cut = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 10**6)))
    fms = draw(st.lists(ids, min_size=3, max_size=5, unique=True))
    return {
        "version": 1,
        "system": {
            "name": draw(ids),
            "description": draw(text),
            "risk": draw(st.sampled_from(["high", "limited", "minimal"])),
        },
        "owners": {
            "original_team": [
                {
                    "id": people[0],
                    "name": draw(text),
                    "contacts": {"email": f"{people[0]}@example.com"},
                }
            ],
            "operations": [
                {"id": p, "name": draw(text), "contacts": {"slack": f"@{p}"}} for p in people[1:]
            ],
        },
        "cutover": cut.isoformat(),
        "handoff_window": draw(st.sampled_from(["P90D", "P30D", "P1Y", "PT12H", "P2W"])),
        "decisions": [
            {"id": "d", "description": draw(text), "customer_facing": draw(st.booleans())}
        ],
        "failure_modes": [
            {
                "id": f,
                "title": draw(text),
                "severity": draw(st.sampled_from(["P1", "P2", "P3"])),
                "runbook": "runbooks/a.md",
            }
            for f in fms
        ],
        "evals": {
            "suites": {
                "s": {
                    "dataset": "evals/triage.jsonl",
                    "target": {"python": "app:predict"},
                    "scorers": [{"name": "m", "kind": "exact"}],
                }
            }
        },
        "audit": {"origin": f"example.com/{draw(ids)}"},
        "oncall": {
            "timezone": "UTC",
            "rotations": {
                "primary": {
                    "members": people[1:],
                    "shift": {"start": "2026-01-05T09:00:00", "length": "P7D"},
                }
            },
        },
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=contracts())
def test_model_yaml_model_round_trip(tmp_path: Path, data: dict[str, Any]) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False  # ruamel's flow emitter mis-quotes plain scalars like "?0"
    buf = io.StringIO()
    yaml.dump(data, buf)
    spec = write_project(tmp_path, buf.getvalue())
    first = load_spec(spec)
    # dump the resolved model back to YAML and load it again: same model, same digest
    buf2 = io.StringIO()
    yaml.dump(resolved_data(first.model), buf2)
    spec.write_text(buf2.getvalue())
    second = load_spec(spec)
    assert second.model == first.model
    assert second.digest == first.digest


def test_digest_ignores_layout_but_not_content(project: Path) -> None:
    before = load_spec(project).digest
    text = project.read_text()
    project.write_text("# a comment\n" + text.replace("P90D", "P90D   # window"))
    assert load_spec(project).digest == before
    project.write_text(text.replace("P90D", "P91D"))
    assert load_spec(project).digest != before


def test_digest_fills_defaults(project: Path) -> None:
    text = project.read_text()
    explicit = text.replace("handoff_window: P90D\n", "")
    project.write_text(explicit)
    without = load_spec(project)
    assert str(without.model.handoff_window) == "P90D"
    project.write_text(text)
    assert load_spec(project).digest == without.digest
