"""Fixtures for the eval harness tests: a project directory, suites, and a real HTTP server."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from mondaytest.evals.runner import RunOptions, RunResult, SuiteRef, run_suite
from mondaytest.spec.evals import SuiteSpec


class Project:
    """A throwaway project: write files, define suites, run them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def cases(self, rel: str, rows: list[dict[str, Any]]) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path

    def suite(self, name: str = "s", **fields: Any) -> SuiteRef:
        data: dict[str, Any] = {
            "dataset": "evals/cases.jsonl",
            "target": {"python": "app:predict"},
            "scorers": [{"name": "exact", "kind": "exact"}],
            "cache": "off",
            "retry_backoff_s": 0,
        }
        data.update(fields)
        return SuiteRef(name, SuiteSpec.model_validate(data), self.root, spec_digest="sha256:test")

    def run(self, name: str = "s", options: RunOptions | None = None, **fields: Any) -> RunResult:
        return run_suite(self.suite(name, **fields), options)


def trials(result: RunResult) -> list[dict[str, Any]]:
    """The trial lines of a run."""
    text = (result.dir / "trials.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------------------- HTTP server


class Behaviour:
    """What the test server does; tests mutate it."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first: int = 0
        self.fail_status: int = 429
        self.retry_after: str | None = "0"
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    behaviour: Behaviour

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            payload = json.loads(raw or b"null")
        except ValueError:
            payload = None
        b = self.behaviour
        with b.lock:
            b.requests.append({"path": self.path, "body": payload, "headers": dict(self.headers)})
            n = len([r for r in b.requests if r["path"] == self.path])
        path = self.path.split("?")[0]
        if path == "/echo":
            text = payload.get("text") if isinstance(payload, dict) else None
            if text is None and isinstance(payload, dict):
                text = payload.get("input")
            self._send(
                200,
                json.dumps(
                    {"result": {"label": str(text).upper()}, "usage": {"cost": 0.5}}
                ).encode(),
            )
        elif path == "/flaky":
            if n <= b.fail_first:
                headers = {"Retry-After": b.retry_after} if b.retry_after is not None else {}
                self._send(b.fail_status, b"slow down", headers)
            else:
                self._send(200, json.dumps({"result": {"label": "OK"}}).encode())
        elif path == "/malformed":
            self._send(200, b"<html>not json</html>", {"Content-Type": "text/html"})
        elif path == "/truncated":
            self._send(200, b'{"result": {"label": "A"')
        elif path == "/nofield":
            self._send(200, json.dumps({"other": 1}).encode())
        elif path == "/bad-request":
            self._send(400, b'{"error": "bad input"}')
        elif path == "/slow":
            time.sleep(0.5)
            self._send(200, json.dumps({"result": {"label": "late"}}).encode())
        elif path == "/judge":
            out = payload.get("output") if isinstance(payload, dict) else None
            exp = payload.get("expected") if isinstance(payload, dict) else None
            self._send(200, json.dumps({"verdict": f"SCORE: {5 if out == exp else 1}"}).encode())
        else:
            self._send(404, b"no such path")

    do_PUT = do_POST  # noqa: N815 — the http.server naming
