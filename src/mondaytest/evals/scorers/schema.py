"""JSON Schema validity of the output."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from mondaytest.errors import ConfigError
from mondaytest.evals.model import Case, Score
from mondaytest.evals.scorers.interface import FieldScorer, ScorerContext
from mondaytest.spec.evals import JsonSchemaScorer

__all__ = ["JsonSchemaValid"]


class JsonSchemaValid(FieldScorer):
    """1 when the output (a JSON text output is parsed first) is valid against the schema."""

    KIND = "json_schema"
    NEEDS_EXPECTED = False
    spec: JsonSchemaScorer

    def __init__(self, spec: JsonSchemaScorer, ctx: ScorerContext) -> None:
        self._schema = self._load(spec, ctx)
        super().__init__(spec, ctx)
        cls = jsonschema.validators.validator_for(self._schema)
        try:
            cls.check_schema(self._schema)
        except jsonschema.SchemaError as exc:
            raise ConfigError(
                f"invalid JSON Schema: {exc.message}", field=f"scorers.{spec.name}.schema"
            ) from None
        self._validator = cls(self._schema)

    @staticmethod
    def _load(spec: JsonSchemaScorer, ctx: ScorerContext) -> dict[str, Any]:
        if isinstance(spec.schema_, dict):
            return spec.schema_
        path = ctx.root_dir / spec.schema_
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"cannot read schema file {spec.schema_!r}: {exc.strerror}",
                field=f"scorers.{spec.name}.schema",
            ) from None
        except ValueError as exc:
            raise ConfigError(
                f"schema file {spec.schema_!r} is not JSON: {exc}",
                field=f"scorers.{spec.name}.schema",
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(
                "a JSON Schema must be an object", field=f"scorers.{spec.name}.schema"
            )
        return data

    def fingerprint_detail(self) -> dict[str, Any]:
        """The schema's content (not its path) defines the verdicts."""
        text = json.dumps(self._schema, sort_keys=True, separators=(",", ":"))
        return {
            "schema_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "field": self.spec.field,
        }

    def score(self, case: Case, output: Any) -> Score:
        """1 when valid; the reason names the most relevant violation."""
        out, exp = self.pick(case, output)
        bad = self.missing(out, exp)
        if bad is not None:
            return bad
        if isinstance(out, str):
            try:
                out = json.loads(out)
            except ValueError:
                return Score(0.0, False, reason="output is not JSON")
        error = best_match(self._validator.iter_errors(out))
        if error is None:
            return Score(1.0, True)
        where = "/".join(str(p) for p in error.absolute_path)
        return Score(
            0.0, False, reason=f"{'at /' + where + ': ' if where else ''}{error.message}"[:200]
        )
