"""Bench-only environments for peers: one virtual environment per peer under ``bench/.envs``.

Peers are never in the project's lock. Each peer gets its own venv (created on first use with
the pinned version below) and runs as a subprocess, so its dependencies cannot disturb Monday's
and each side is timed in its own interpreter. Scripts call :func:`peer_python` and
:func:`run_json`.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ENVS = HERE / ".envs"

PEERS: dict[str, list[str]] = {
    "pymerkle": ["pymerkle==7.0.0"],
    "pydantic-evals": ["pydantic-evals==2.62.0"],
    "inspect-ai": ["inspect-ai==0.3.285"],
    "deepeval": ["deepeval==4.3.1"],
}
"""Peer name -> pinned requirements (bench only)."""


def peer_python(name: str) -> Path:
    """The interpreter of the peer's venv, creating and installing it on first use."""
    env = ENVS / name
    py = env / "bin" / "python"
    stamp = env / ".installed"
    wanted = "\n".join(PEERS[name])
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"[bench] preparing {name} environment ({', '.join(PEERS[name])})", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(env)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEERS[name]],
            check=True,
        )
        stamp.write_text(wanted)
    return py


def peer_version(name: str) -> str:
    """The installed version of the peer's main package."""
    dist = PEERS[name][0].split("==")[0]
    out = subprocess.run(
        [
            str(peer_python(name)),
            "-c",
            f"import importlib.metadata as m; print(m.version({dist!r}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "DEEPEVAL_TELEMETRY_OPT_OUT": "YES",
    "DEEPEVAL_UPDATE_WARNING_OPT_IN": "NO",
    "DEEPEVAL_NO_INSPECT_PROMPT": "1",
    "ERROR_REPORTING": "NO",
    "INSPECT_DISPLAY": "none",
    "PYTHONDONTWRITEBYTECODE": "1",
}
"""Set for every peer run: no telemetry, no hub look-ups, no prompts. (``INSPECT_TELEMETRY`` is
*not* a switch: inspect-ai reads it as the module path of a user hook, and "0" crashes it.)"""

_DROP = ("PYTHONPATH", "INSPECT_TELEMETRY", "INSPECT_API_KEY_OVERRIDE", "VIRTUAL_ENV")


def offline_env() -> dict[str, str]:
    """The environment a peer runs in: ours minus Python paths, plus :data:`OFFLINE_ENV`."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    for key, value in OFFLINE_ENV.items():
        env.setdefault(key, value)
    return env


@functools.cache
def try_peer(name: str) -> tuple[Path | None, str]:
    """``(python, version)`` of a ready peer, or ``(None, reason)`` when it cannot be set up
    (no registry access, a failed install): the bench then reports the peer as missing."""
    try:
        return peer_python(name), peer_version(name)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"unavailable: {type(exc).__name__}: {str(exc)[:200]}"


def run_json(python: Path | str, script: Path | str, *args: str, timeout: float = 1800) -> Any:
    """Run ``script`` under ``python``; its last stdout line is one JSON value, returned."""
    done = subprocess.run(
        [str(python), str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=offline_env(),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    return json.loads(lines[-1])


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
