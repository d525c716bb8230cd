"""HTTP services as targets: a request template in, a JSON path out, with retries honoured."""

from __future__ import annotations

import email.utils
import os
import time
from pathlib import Path
from typing import Any

import httpx

from mondaytest.errors import ConfigError
from mondaytest.evals.model import MISSING, Case, Output
from mondaytest.evals.paths import compile_path, get_path, render_path
from mondaytest.evals.targets.interface import (
    TargetContext,
    TargetError,
    TargetInfo,
    fingerprint_of,
)
from mondaytest.evals.template import render, render_text
from mondaytest.spec.evals import HttpRequest

__all__ = ["HttpTarget", "parse_retry_after", "resolve_secret"]

MAX_RETRY_AFTER_S = 120.0
"""Longest ``Retry-After`` that is honoured; longer waits are capped."""


def resolve_secret(ref: str, root_dir: Path, *, field: str) -> str:
    """The value of an ``env:VAR`` or ``file:PATH`` reference; ConfigError when unavailable."""
    kind, _, rest = ref.partition(":")
    if kind == "env":
        value = os.environ.get(rest)
        if value is None:
            raise ConfigError(
                f"environment variable {rest} is not set",
                field=field,
                hint="export it, or run with --replay to use recorded outputs",
            )
        return value
    path = (root_dir / rest).resolve()
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot read secret file {rest!r}: {exc.strerror}", field=field
        ) from None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


class HttpTarget:
    """POSTs (or GETs…) one request per case and reads the output from the JSON response."""

    def __init__(
        self,
        spec: HttpRequest,
        ctx: TargetContext,
        *,
        version: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._spec = spec
        self._ctx = ctx
        self._transport = transport
        try:
            self._output = compile_path(spec.output)
            self._cost = compile_path(spec.cost) if spec.cost else None
        except ValueError as exc:
            raise ConfigError(str(exc), field="target.http.output") from None
        self._client: httpx.AsyncClient | None = None
        self._has_body = spec.method != "GET"
        detail: dict[str, Any] = {
            "kind": "http",
            "method": spec.method,
            "url": spec.url,
            "headers": dict(sorted(spec.headers.items())),
            "secret_headers": sorted(spec.secret_headers)
            + (["Authorization"] if spec.bearer else []),
            "body": spec.body,
            "output": spec.output,
            "version": version,
        }
        self.info = TargetInfo("http", f"{spec.method} {spec.url}", fingerprint_of(detail), detail)

    async def start(self) -> None:
        """Resolve secrets and open the connection pool."""
        headers = {"Accept": "application/json", **self._spec.headers}
        field = "target.http" if self._ctx.role == "target" else None
        for name, ref in self._spec.secret_headers.items():
            headers[name] = resolve_secret(ref, self._ctx.root_dir, field=f"{field}.secret_headers")
        if self._spec.bearer:
            token = resolve_secret(self._spec.bearer, self._ctx.root_dir, field=f"{field}.bearer")
            headers["Authorization"] = f"Bearer {token}"
        timeout = self._spec.timeout_s or self._ctx.timeout_s
        limits = httpx.Limits(
            max_connections=self._ctx.concurrency, max_keepalive_connections=self._ctx.concurrency
        )
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(timeout),
            limits=limits,
            transport=self._transport,
            follow_redirects=False,
            trust_env=False,
        )

    async def call(self, case: Case, epoch: int) -> Any:
        """Send the request for one case and extract the output."""
        assert self._client is not None, "start() first"
        values = {"input": case.input, "id": case.id, "epoch": epoch}
        url = render_text(self._spec.url, values)
        kwargs: dict[str, Any] = {}
        if self._has_body:
            body = (
                {"input": case.input}
                if self._spec.body is None
                else render(self._spec.body, values)
            )
            kwargs["json"] = body
        try:
            response = await self._client.request(self._spec.method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise TargetError(f"HTTP timeout ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TargetError(f"HTTP transport error: {type(exc).__name__}: {exc}") from None
        status = response.status_code
        if status == 429:
            raise TargetError(
                "HTTP 429 Too Many Requests",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise TargetError(
                f"HTTP {status}: {_snippet(response.text)}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 300:
            raise TargetError(f"HTTP {status}: {_snippet(response.text)}", retryable=False)
        try:
            data = response.json()
        except ValueError:
            raise TargetError(
                f"response is not JSON: {_snippet(response.text)}", retryable=False
            ) from None
        output = get_path(data, self._output)
        if output is MISSING:
            raise TargetError(
                f"response has no {render_path(self._output)}: {_snippet(response.text)}",
                retryable=False,
            )
        if self._cost is not None:
            cost = get_path(data, self._cost)
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                return Output(output, cost=float(cost))
        return output

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
