"""Targets against real things: a Python module, an HTTP server on 127.0.0.1, subprocesses."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from tests.evals.evalkit import Behaviour, Project, trials

from mondaytest.errors import ConfigError
from mondaytest.evals.model import Case, Output
from mondaytest.evals.targets.cmd import CmdTarget
from mondaytest.evals.targets.http import HttpTarget, parse_retry_after
from mondaytest.evals.targets.interface import TargetContext, TargetError
from mondaytest.evals.targets.python import FAST_STREAK, PythonTarget
from mondaytest.spec.evals import HttpRequest


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


# ------------------------------------------------------------------------------------ python


def test_python_sync_goes_inline_once_cheap_and_back_when_slow(tmp_path: Path) -> None:
    import time

    slow = {"on": False}

    def fn(x: str) -> str:
        if slow["on"]:
            time.sleep(0.01)
        return x[::-1]

    target = PythonTarget("m:f", TargetContext(tmp_path), fn=fn)

    async def go() -> None:
        await target.start()
        assert not target.inline
        for i in range(FAST_STREAK + 1):
            assert await target.call(Case(str(i), "ab"), 0) == "ba"
        assert target.inline
        slow["on"] = True
        await target.call(Case("x", "ab"), 0)
        assert not target.inline
        await target.aclose()

    run(go())
    assert target.info.kind == "python"
    assert len(target.info.fingerprint) == 64


def test_python_target_fingerprint_follows_source_and_version(evproj: Project) -> None:
    ctx = TargetContext(evproj.root)
    a = PythonTarget("app:predict", ctx)
    b = PythonTarget("app:predict", ctx, version="v2")
    assert a.info.fingerprint != b.info.fingerprint
    assert a.info.detail["source_sha256"]


def test_python_import_errors_are_config_errors(evproj: Project) -> None:
    with pytest.raises(ConfigError, match="cannot import the target 'nomod:f'"):
        PythonTarget("nomod:f", TargetContext(evproj.root))


# -------------------------------------------------------------------------------------- http


def _http(url: str, tmp_path: Path, **kw: object) -> HttpTarget:
    spec = HttpRequest.model_validate({"url": url, **kw})
    return HttpTarget(spec, TargetContext(tmp_path, concurrency=4, timeout_s=5))


async def _call(target: HttpTarget, value: object = "hi") -> object:
    await target.start()
    try:
        return await target.call(Case("c1", value), 0)
    finally:
        await target.aclose()


def test_http_template_extractor_and_cost(
    http_server: tuple[str, Behaviour], tmp_path: Path
) -> None:
    base, behaviour = http_server
    target = _http(
        base + "/echo?id={{id}}",
        tmp_path,
        body={"text": "{{input.q}}", "meta": "case {{id}} epoch {{epoch}}"},
        output="$.result.label",
        cost="$.usage.cost",
        headers={"X-Team": "claims"},
    )
    out = run(_call(target, {"q": "hello"}))
    assert out == Output("HELLO", cost=0.5)
    sent = behaviour.requests[0]
    assert sent["path"] == "/echo?id=c1"
    assert sent["body"] == {"text": "hello", "meta": "case c1 epoch 0"}
    assert sent["headers"]["X-Team"] == "claims"


def test_http_default_body_and_secret_headers(
    http_server: tuple[str, Behaviour], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, behaviour = http_server
    monkeypatch.setenv("EVAL_TOKEN", "s3cret")
    target = _http(base + "/echo", tmp_path, bearer="env:EVAL_TOKEN", output="result.label")
    assert run(_call(target, "abc")) == "ABC"
    assert behaviour.requests[0]["body"] == {"input": "abc"}
    assert behaviour.requests[0]["headers"]["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in str(target.info.detail)
    monkeypatch.delenv("EVAL_TOKEN")
    with pytest.raises(ConfigError, match="EVAL_TOKEN is not set"):
        run(_call(_http(base + "/echo", tmp_path, bearer="env:EVAL_TOKEN")))


@pytest.mark.parametrize(
    ("path", "message", "retryable"),
    [
        ("/malformed", "response is not JSON: <html>not json</html>", False),
        ("/truncated", "response is not JSON", False),
        ("/nofield", "response has no $.result.label", False),
        ("/bad-request", "HTTP 400", False),
        ("/nowhere", "HTTP 404", False),
    ],
)
def test_http_malformed_responses(
    http_server: tuple[str, Behaviour], tmp_path: Path, path: str, message: str, retryable: bool
) -> None:
    base, _ = http_server
    with pytest.raises(TargetError) as info:
        run(_call(_http(base + path, tmp_path, output="$.result.label")))
    assert message in str(info.value)
    assert info.value.retryable is retryable


def test_http_429_and_5xx_are_retryable_with_retry_after(
    http_server: tuple[str, Behaviour], tmp_path: Path
) -> None:
    base, behaviour = http_server
    behaviour.fail_first = 1
    behaviour.retry_after = "3"
    with pytest.raises(TargetError) as info:
        run(_call(_http(base + "/flaky", tmp_path)))
    assert info.value.retryable
    assert info.value.retry_after == 3.0
    assert "429" in str(info.value)
    behaviour.requests.clear()
    behaviour.fail_first = 1
    behaviour.fail_status = 503
    behaviour.retry_after = None
    with pytest.raises(TargetError) as info:
        run(_call(_http(base + "/flaky", tmp_path)))
    assert info.value.retryable
    assert info.value.retry_after is None
    assert "503" in str(info.value)


def test_http_connection_refused_is_retryable(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TargetError) as info:
        run(_call(_http(f"http://127.0.0.1:{port}/x", tmp_path)))
    assert info.value.retryable
    assert "transport" in str(info.value)


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("1000") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_http_suite_end_to_end_with_429_retries(
    http_server: tuple[str, Behaviour], evproj: Project
) -> None:
    base, behaviour = http_server
    behaviour.fail_first = 3
    evproj.cases(
        "evals/cases.jsonl",
        [{"id": f"c{i}", "input": "x", "expected": {"label": "OK"}} for i in range(5)],
    )
    result = evproj.run(
        target={"http": {"url": base + "/flaky", "output": "$.result"}},
        scorers=[{"name": "label", "kind": "exact", "field": "label"}],
        retries=3,
        concurrency=1,
    )
    rows = trials(result)
    assert all(r["status"] == "ok" and r["passed"] for r in rows)
    assert sum(r["attempts"] for r in rows) == 8
    assert sum(len(r.get("attempt_errors", [])) for r in rows) == 3
    assert "HTTP 429" in rows[0]["attempt_errors"][0] or "HTTP 429" in str(rows)


def test_http_suite_timeout(http_server: tuple[str, Behaviour], evproj: Project) -> None:
    base, _ = http_server
    evproj.cases("evals/cases.jsonl", [{"id": "c1", "input": "x"}])
    result = evproj.run(
        target={"http": {"url": base + "/slow", "timeout_s": 0.1}},
        scorers=[{"name": "v", "kind": "json_schema", "schema": {"type": "object"}}],
        retries=0,
    )
    row = trials(result)[0]
    assert row["status"] == "error"
    assert "timeout" in row["error"].lower()


# --------------------------------------------------------------------------------------- cmd

WORKER = """
import json, os, sys
for line in sys.stdin:
    req = json.loads(line)
    x = req["input"]
    if x == "crash":
        sys.stderr.write("dying on purpose\\n"); sys.stderr.flush()
        os._exit(3)
    if x == "garbage":
        print("this is not json", flush=True)
        continue
    if x == "fail":
        answer = {"id": req["id"], "error": "model refused", "retryable": False}
        print(json.dumps(answer), flush=True)
        continue
    answer = {"id": req["id"], "output": x.upper(), "cost": 0.01, "pid": os.getpid()}
    print(json.dumps(answer), flush=True)
"""

ONCE = """
import json, sys
req = json.load(sys.stdin)
if req["input"] == "bad":
    sys.stderr.write("bad input\\n"); sys.exit(2)
json.dump({"output": req["input"][::-1]}, sys.stdout)
"""


def _cmd(tmp_path: Path, script: str, **kw: object) -> CmdTarget:
    (tmp_path / "w.py").write_text(script)
    return CmdTarget([sys.executable, "w.py"], TargetContext(tmp_path, concurrency=2), **kw)  # type: ignore[arg-type]


def test_cmd_worker_protocol_and_recovery(tmp_path: Path) -> None:
    target = _cmd(tmp_path, WORKER, workers=1)

    async def go() -> list[object]:
        await target.start()
        out: list[object] = [await target.call(Case("a", "hi"), 0)]
        for bad in ("crash", "garbage", "fail"):
            try:
                await target.call(Case("b", bad), 0)
            except TargetError as exc:
                out.append((str(exc), exc.retryable))
        out.append(await target.call(Case("c", "ok"), 0))
        await target.aclose()
        return out

    ok, crash, garbage, fail, after = run(go())
    assert ok == Output("HI", cost=0.01)
    assert "worker exited with code 3" in crash[0]
    assert "dying on purpose" in crash[0]
    assert crash[1]
    assert "answer is not JSON: 'this is not json'" in garbage[0]
    assert not garbage[1]
    assert fail == ("program reported: model refused", False)
    assert after == Output("OK", cost=0.01)
    assert target.info.detail["files_sha256"]["w.py"]


def test_cmd_per_case(tmp_path: Path) -> None:
    target = _cmd(tmp_path, ONCE, mode="per_case")

    async def go() -> tuple[object, str]:
        await target.start()
        ok = await target.call(Case("a", "abc"), 0)
        try:
            await target.call(Case("b", "bad"), 0)
        except TargetError as exc:
            return ok, str(exc)
        return ok, ""

    ok, err = run(go())
    assert ok == "cba"
    assert err == "exited with code 2: bad input"


def test_cmd_suite_with_worker_timeout(evproj: Project) -> None:
    evproj.write(
        "worker.py",
        """
        import json, sys, time
        for line in sys.stdin:
            req = json.loads(line)
            if req["input"] == "w-3":
                time.sleep(5)
            print(json.dumps({"id": req["id"], "output": req["input"].upper()}), flush=True)
        """,
    )
    result = evproj.run(
        target={"cmd": [sys.executable, "worker.py"], "workers": 2},
        timeout_s=0.5,
        retries=0,
        concurrency=2,
    )
    rows = {r["case"]: r for r in trials(result)}
    assert rows["c3"]["status"] == "error"
    assert "timeout" in rows["c3"]["error"]
    assert all(r["passed"] for k, r in rows.items() if k != "c3")
    assert result.data["target"]["kind"] == "cmd"
