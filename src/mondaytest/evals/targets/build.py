"""Build a :class:`~mondaytest.evals.targets.interface.Target` from its spec."""

from __future__ import annotations

from mondaytest.evals.targets.interface import Target, TargetContext
from mondaytest.spec.evals import CmdTarget as CmdSpec
from mondaytest.spec.evals import HttpTarget as HttpSpec
from mondaytest.spec.evals import PythonTarget as PythonSpec
from mondaytest.spec.evals import ReplayTarget as ReplaySpec
from mondaytest.spec.evals import TargetSpec

__all__ = ["build_target"]


def build_target(spec: TargetSpec, ctx: TargetContext) -> Target:
    """The target a spec describes; ConfigError when it cannot be built (bad import, …)."""
    if isinstance(spec, PythonSpec):
        from mondaytest.evals.targets.python import PythonTarget

        return PythonTarget(spec.python, ctx, inline=spec.inline, version=spec.version)
    if isinstance(spec, HttpSpec):
        from mondaytest.evals.targets.http import HttpTarget

        return HttpTarget(spec.http, ctx, version=spec.version)
    if isinstance(spec, CmdSpec):
        from mondaytest.evals.targets.cmd import CmdTarget

        return CmdTarget(
            spec.cmd, ctx, mode=spec.mode, workers=spec.workers, env=spec.env, version=spec.version
        )
    if isinstance(spec, ReplaySpec):
        from mondaytest.evals.cassette import Cassette
        from mondaytest.evals.targets.replay import ReplayTarget

        return ReplayTarget(Cassette.open(ctx.root_dir / spec.replay), ctx.role)
    raise TypeError(f"unknown target spec {type(spec).__name__}")
