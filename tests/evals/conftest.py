"""Fixtures of the eval harness tests (helpers live in ``evalkit.py``)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.evals.evalkit import Behaviour, Handler, Project


@pytest.fixture
def evproj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A project dir with ``app.py`` (predict = upper-case) and 20 cases."""
    p = Project(tmp_path)
    p.write(
        "app.py",
        """
        import asyncio

        def predict(x):
            return x.upper()

        async def apredict(x):
            await asyncio.sleep(0.001)
            return x.upper()

        def boom(x):
            raise KeyError(x)

        def wrong_on_odd(x):
            n = int(x.split("-")[1])
            return x.upper() if n % 2 == 0 else x
        """,
    )
    p.cases(
        "evals/cases.jsonl",
        [
            {
                "id": f"c{i}",
                "input": f"w-{i}",
                "expected": f"W-{i}",
                "tags": ["critical" if i < 4 else ("a" if i % 2 else "b")],
            }
            for i in range(20)
        ],
    )
    before = set(sys.modules)
    yield p
    for name in set(sys.modules) - before:
        mod = sys.modules.get(name)
        if getattr(mod, "__file__", None) and str(getattr(mod, "__file__", "")).startswith(
            str(tmp_path)
        ):
            del sys.modules[name]
    while str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


class _QuietServer(ThreadingHTTPServer):
    """Clients that time out hang up mid-response; that is expected here, not an error."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, Behaviour]]:
    """A real HTTP server on 127.0.0.1 (random port): ``(base_url, behaviour)``."""
    behaviour = Behaviour()
    handler = type("Handler", (Handler,), {"behaviour": behaviour})
    server = _QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}", behaviour
    finally:
        server.shutdown()
        server.server_close()
