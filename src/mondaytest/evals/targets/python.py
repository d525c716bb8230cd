"""Python callables as targets: ``module:function``, sync or async."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import inspect
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mondaytest.errors import ConfigError
from mondaytest.evals.model import Case
from mondaytest.evals.targets.interface import TargetContext, TargetInfo, fingerprint_of

__all__ = ["FAST_CALL_S", "PythonTarget", "import_callable", "source_digest"]

FAST_CALL_S = 0.0001
"""A sync call that takes less than this counts as cheap (``inline: auto``)."""
SLOW_CALL_S = 0.002
"""An inline call that takes longer than this sends later calls back to the thread pool."""
FAST_STREAK = 32
"""Consecutive cheap calls before ``inline: auto`` switches to running inline."""


def import_callable(
    ref: str, root_dir: Path, *, what: str, field: str | None = None
) -> Callable[..., Any]:
    """Import ``module:function`` with ``root_dir`` first on ``sys.path``.

    Raises :class:`ConfigError` naming the problem (no module, no attribute, not callable, or
    the exception the module raised while importing).
    """
    module_name, _, attr = ref.partition(":")
    root = str(root_dir.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"cannot import the {what} {ref!r}: {exc}",
            field=field,
            hint=f"modules are looked up from {root} and the installed packages",
        ) from None
    except Exception as exc:
        raise ConfigError(
            f"importing the {what} module {module_name!r} failed: {type(exc).__name__}: {exc}",
            field=field,
            hint="fix the module so it imports cleanly (run `python -c 'import "
            f"{module_name}'` from {root})",
        ) from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                f"module {module_name!r} has no attribute {attr!r}",
                field=field,
                hint=f"check the name after ':' in {ref!r}",
            ) from None
    if not callable(obj):
        raise ConfigError(f"{ref!r} is not callable", field=field)
    result: Callable[..., Any] = obj
    return result


def source_digest(fn: Callable[..., Any], module_name: str) -> str | None:
    """SHA-256 of the source files of the module named in the reference and of the module
    defining ``fn`` (when different); None when no source file exists."""
    names = dict.fromkeys([module_name, getattr(fn, "__module__", None) or module_name])
    digest = hashlib.sha256()
    found = False
    for name in names:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if file and Path(file).is_file():
            digest.update(Path(file).read_bytes())
            found = True
    return digest.hexdigest() if found else None


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 — async callable objects
    return call is not None and inspect.iscoroutinefunction(call)


class PythonTarget:
    """Calls ``fn(input)``. Async functions are awaited on the loop; sync ones run in a thread
    pool, or inline once they prove cheap (see :class:`~mondaytest.spec.evals.PythonTarget`)."""

    def __init__(
        self,
        ref: str,
        ctx: TargetContext,
        *,
        inline: str = "auto",
        version: str | None = None,
        fn: Callable[..., Any] | None = None,
    ) -> None:
        field = "target.python" if ctx.role == "target" else None
        self._fn = (
            fn if fn is not None else import_callable(ref, ctx.root_dir, what=ctx.role, field=field)
        )
        self._async = _is_async(self._fn)
        self._mode = inline
        self._inline = inline == "always"
        self._streak = 0
        self._pool: ThreadPoolExecutor | None = None
        self._workers = ctx.concurrency
        detail: dict[str, Any] = {
            "kind": "python",
            "ref": ref,
            "source_sha256": source_digest(self._fn, ref.partition(":")[0]),
            "version": version,
        }
        self.info = TargetInfo("python", ref, fingerprint_of(detail), detail)

    @property
    def inline(self) -> bool:
        """True while sync calls run on the event loop."""
        return self._inline

    async def start(self) -> None:
        """Create the thread pool (sync functions only)."""
        if not self._async and self._mode != "always":
            self._pool = ThreadPoolExecutor(
                max_workers=self._workers, thread_name_prefix="monday-target"
            )

    def _timed(self, value: Any) -> tuple[Any, float]:
        t0 = time.perf_counter()
        out = self._fn(value)
        return out, time.perf_counter() - t0

    async def call(self, case: Case, epoch: int) -> Any:
        """Call the function with the case's input."""
        if self._async:
            return await self._fn(case.input)
        if self._inline:
            t0 = time.perf_counter()
            out = self._fn(case.input)
            if self._mode == "auto" and time.perf_counter() - t0 > SLOW_CALL_S:
                self._inline = False
                self._streak = 0
        else:
            loop = asyncio.get_running_loop()
            out, took = await loop.run_in_executor(
                self._pool, functools.partial(self._timed, case.input)
            )
            if self._mode == "auto":
                self._streak = self._streak + 1 if took < FAST_CALL_S else 0
                if self._streak >= FAST_STREAK:
                    self._inline = True
        if inspect.isawaitable(out):
            out = await out
        return out

    async def aclose(self) -> None:
        """Shut the thread pool down without waiting for abandoned (timed-out) calls."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
