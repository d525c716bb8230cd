"""The in-process writer: one thread per open log that group-commits entries and publishes
checkpoints.

Callers hand lists of :class:`~mondaytest.audit.entries.EntryDraft` to :meth:`Writer.submit`
and get a :class:`Submission` back. The writer thread:

- takes queued submissions, up to ``max_batch`` entries, and commits them in **one** store
  transaction (see :class:`~mondaytest.audit.sequencer.Sequencer`). A batch is committed as
  soon as the writer is free, so under light load an entry waits for one commit only and under
  heavy load batches fill up by themselves (group commit). When every queued submission is
  fire-and-forget (``async``), the writer lingers up to ``max_wait`` to fill the batch instead.
  A submission is never split: one larger than ``max_batch`` (a bulk import) is committed in a
  transaction of its own, so it is written whole or not at all (:meth:`Writer.submit` cuts
  submissions above :data:`MAX_SUBMISSION` entries);
- after a commit, resolves the ``sequenced`` submissions with their indexes;
- publishes a checkpoint (verify-before-sign, :mod:`mondaytest.audit.publisher`) at most once
  per ``checkpoint_interval`` while entries arrive — counting checkpoints published by *any*
  process on the store — and resolves the ``published`` handles it covers;
- re-publishes a checkpoint every ``republish_interval`` when idle, to prove liveness.

A failed commit (store full, unreachable) fails every submission of that batch with the
:class:`~mondaytest.errors.StoreError` and writes nothing of it. A failed verification before
signing (:class:`~mondaytest.audit.publisher.IntegrityError`) stops the writer for good.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from mondaytest.audit.entries import EntryDraft
from mondaytest.audit.note import NoteSigner
from mondaytest.audit.publisher import IntegrityError, KeyRetired, publish_checkpoint
from mondaytest.audit.sequencer import Sequencer
from mondaytest.audit.store.interface import AuditStore
from mondaytest.errors import MondayError, StoreError

__all__ = [
    "MAX_SUBMISSION",
    "Durability",
    "LoopWaker",
    "Submission",
    "Waker",
    "Writer",
    "WriterSettings",
]

log = logging.getLogger("mondaytest.audit")

Durability = Literal["async", "sequenced", "published"]
"""When an append returns: queued, committed with an index, or covered by a checkpoint."""


@dataclass(frozen=True)
class WriterSettings:
    """Group-commit and checkpoint cadence of a :class:`Writer`."""

    max_batch: int = 256
    """Most entries per transaction."""
    max_wait: float = 0.25
    """Seconds the writer may linger to fill a batch of fire-and-forget entries."""
    checkpoint_interval: float = 1.0
    """Least seconds between two checkpoints under load (across every process on the store)."""
    republish_interval: float = 600.0
    """Seconds after which an idle log signs a fresh checkpoint."""


MAX_SUBMISSION = 16384
"""Most entries one submission holds: bigger lists are cut into several submissions."""


class Waker(Protocol):
    """Told by the writer when a submission reached its durability (or failed)."""

    def notify(self, sub: Submission) -> None:
        """Called on the writer's thread; must not block."""
        ...


class LoopWaker:
    """One asyncio event loop's side of the writer: coalesces submissions and wakes waiters.

    **Coalescing.** Coroutines on the loop queue their drafts with :meth:`add`. The first call
    of a loop tick queues a :class:`Submission` to the writer at once; later calls of the same
    tick join it while the writer has not taken it yet (up to ``max_batch`` entries, per
    durability). 256 tasks that each record one decision thus make one submission and one
    writer wake-up, not 256 of each, and every entry is queued before its call returns (a
    ``close()`` right after commits it). Each task still gets its own future (a cancelled task
    cancels only its own wait; the entries are written all the same) and its own consecutive
    indexes.

    **Waking.** The writer thread calls :meth:`notify` for each submission it resolves; the
    first one queued since the loop last ran schedules a single ``call_soon_threadsafe``, and
    the loop then settles every queued submission's futures at once.
    """

    __slots__ = ("_lock", "_loop", "_open", "_pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # held weakly: the log keeps one waker per loop it served, and a loop that finished
        # (``asyncio.run`` per job) must be freed, not kept alive by its waker
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._pending: list[Submission] = []
        self._open: dict[tuple[Writer, Durability], Submission] = {}

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop (called on it, so it is alive)."""
        loop = self._loop()
        if loop is None:  # pragma: no cover - only a running loop asks
            raise RuntimeError("the event loop of this waker is gone")
        return loop

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        """True when this is ``loop``'s waker."""
        return self._loop() is loop

    def add(
        self, writer: Writer, drafts: list[EntryDraft], mode: Durability
    ) -> tuple[Submission, int, asyncio.Future[None]]:
        """On the loop: queue ``drafts`` (at most ``max_batch``) to ``writer`` now, joining the
        submission this loop queued last for ``mode`` while the writer has not taken it yet;
        return the submission, the drafts' offset in it and a future to await. Raises the
        writer's error when it cannot take entries (closed, stopped)."""
        key = (writer, mode)
        sub = self._open.get(key)
        if sub is not None:
            offset = writer.extend(sub, drafts)
            if offset is not None:
                return sub, offset, sub.add_waiter()
        sub = Submission(list(drafts), mode, self)
        fut = sub.add_waiter()
        writer.enqueue([sub])
        self._open[key] = sub
        self.loop.call_soon(self._forget, key, sub)  # joinable for the rest of this tick only
        return sub, 0, fut

    def _forget(self, key: tuple[Writer, Durability], sub: Submission) -> None:
        if self._open.get(key) is sub:
            del self._open[key]

    def notify(self, sub: Submission) -> None:
        """Called by the writer thread: settle ``sub``'s futures on the loop soon."""
        with self._lock:
            self._pending.append(sub)
            first = len(self._pending) == 1
        if first:
            loop = self._loop()
            try:
                if loop is None:
                    raise RuntimeError("the event loop is gone")
                loop.call_soon_threadsafe(self._settle)
            except RuntimeError:  # the loop is closed: nobody is left to wake
                with self._lock:
                    self._pending.clear()

    def _settle(self) -> None:
        with self._lock:
            subs, self._pending = self._pending, []
        for sub in subs:
            sub._settle_futures()


class Submission:
    """Entries submitted together: wait on it for their indexes (or for a checkpoint).

    The commit is signalled through a bare lock, held from creation and released once by the
    writer (waiters acquire it and hand it straight on): the cheapest wake-up Python has, one
    per caller, instead of an :class:`threading.Event` (a condition, a lock and a waiter list
    per call). The checkpoint signal, rarer, is an Event created only for ``published``.

    Submitted with a :class:`LoopWaker` (from a coroutine), it also carries asyncio futures,
    one per awaiting task, settled on that loop once the submission reaches its durability
    (committed for ``sequenced``, covered by a checkpoint for ``published``) or fails.
    """

    __slots__ = (
        "_futures",
        "_latch",
        "_prev",
        "_published",
        "_sequenced_flag",
        "_taken",
        "_waker",
        "drafts",
        "error",
        "first",
        "mode",
    )

    def __init__(
        self, drafts: list[EntryDraft], mode: Durability, waker: Waker | None = None
    ) -> None:
        self.drafts = drafts
        self.mode: Durability = mode
        self.first: int | None = None
        self.error: MondayError | None = None
        self._sequenced_flag = False
        self._latch = threading.Lock()
        self._latch.acquire()
        self._published = threading.Event() if mode == "published" else None
        self._waker = waker
        self._futures: list[asyncio.Future[None]] = []
        self._taken = False  # the writer took it off its queue (under the writer's lock)
        self._prev: Submission | None = None  # the part before it of one call, if cut

    def _set_sequenced(self) -> None:
        """Committed (or failed): wake whoever waits for the commit."""
        if not self._sequenced_flag:
            self._sequenced_flag = True
            self._latch.release()
            if self._waker is not None and self.mode != "published":
                self._waker.notify(self)

    def _set_published(self) -> None:
        if self._published is not None and not self._published.is_set():
            self._published.set()
            if self._waker is not None:
                self._waker.notify(self)

    def add_waiter(self) -> asyncio.Future[None]:
        """On the waker's loop, before the submission is queued: a future settled with it."""
        if not isinstance(self._waker, LoopWaker):
            raise StoreError("this submission was not made from a coroutine")
        fut: asyncio.Future[None] = self._waker.loop.create_future()
        self._futures.append(fut)
        return fut

    @property
    def waiter(self) -> asyncio.Future[None]:
        """The first waiter's future (the one :meth:`Writer.submit` made with a waker)."""
        if not self._futures:
            raise StoreError("this submission was not made from a coroutine")
        return self._futures[0]

    def _settle_futures(self) -> None:
        """On the waker's loop: settle every waiter's future (cancelled ones are left alone)."""
        error = self.error
        for fut in self._futures:
            if fut.done():
                continue
            if error is not None:  # a copy each: tracebacks of many tasks do not pile up on one
                fut.set_exception(copy.copy(error))
            else:
                fut.set_result(None)
        self._futures = []

    def _fail(self, error: MondayError) -> None:
        self.error = error
        self._set_sequenced()
        self._set_published()

    @property
    def done(self) -> bool:
        """True once committed (or failed)."""
        return self._sequenced_flag

    @property
    def last(self) -> int | None:
        """Index of the last entry, once committed."""
        return None if self.first is None else self.first + len(self.drafts) - 1

    def wait_sequenced(self, timeout: float | None = None) -> bool:
        """Block until committed (or failed); False on timeout."""
        if self._sequenced_flag:
            return True
        if not self._latch.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            return self._sequenced_flag
        self._latch.release()  # hand the latch on to any other waiter
        return True

    async def wait_async(
        self, fut: asyncio.Future[None], offset: int = 0, count: int | None = None
    ) -> list[int]:
        """Await ``fut`` (from :meth:`add_waiter`) and return the indexes of ``count`` of this
        submission's drafts from ``offset`` on (all of them by default), or raise the write's
        error. Cancelling the wait does not withdraw the entries: they are written all the
        same."""
        await fut
        assert self.first is not None
        first = self.first + offset
        return list(range(first, first + (len(self.drafts) - offset if count is None else count)))

    def wait(self, *, published: bool = False, timeout: float | None = None) -> list[int]:
        """Block until committed (or, with ``published``, covered by a checkpoint); return the
        indexes. Raises the write's error, or :class:`StoreError` on timeout."""
        if published:
            if self._published is None:
                raise StoreError("this submission was not made with durability 'published'")
            ok = self._published.wait(timeout)
        else:
            ok = self.wait_sequenced(timeout)
        if not ok:
            what = "a checkpoint" if published else "the commit"
            raise StoreError(f"timed out after {timeout} s waiting for {what} of audit entries")
        if self.error is not None:
            raise self.error
        assert self.first is not None
        return list(range(self.first, self.first + len(self.drafts)))


class Writer:
    """One writer thread for one log in this process."""

    def __init__(
        self,
        store: AuditStore,
        origin: str,
        signers: Sequence[NoteSigner],
        settings: WriterSettings | None = None,
        *,
        genesis: Callable[[], EntryDraft] | None = None,
    ) -> None:
        self.store = store
        self.origin = origin
        self.signers = list(signers)
        self.settings = settings or WriterSettings()
        self._sequencer = Sequencer(store, origin, genesis)
        self._cond = threading.Condition()
        self._queue: deque[Submission] = deque()
        self._awaiting: list[Submission] = []  # committed, waiting for a checkpoint
        self._closing = False
        self._fatal: MondayError | None = None
        self._force = False  # a checkpoint was asked for explicitly
        self._uncovered = False  # committed entries no checkpoint of ours covers yet
        self._last_publish = 0.0  # created_at of the newest checkpoint on the store we know of
        self._blocking = 0  # queued submissions whose caller waits (not async)
        self._queued = 0  # entries queued
        self._last: Submission | None = None  # the last submission
        self._async_error: MondayError | None = None  # first failure of an async entry
        self._async_lost = 0  # async entries lost since the failure was last taken
        self._current: list[Submission] = []  # the batch being committed
        self._thread = threading.Thread(target=self._run, name="monday-audit-writer", daemon=True)
        self._thread.start()

    # -- caller side -----------------------------------------------------------------------

    @property
    def fatal(self) -> MondayError | None:
        """The error that stopped the writer, if any."""
        return self._fatal

    @property
    def alive(self) -> bool:
        """True while the writer thread runs."""
        return self._thread.is_alive()

    def submit(
        self,
        drafts: Sequence[EntryDraft],
        mode: Durability = "sequenced",
        waker: LoopWaker | None = None,
    ) -> list[Submission]:
        """Queue entries (sequenced in this order, consecutively); return their submissions
        (one unless there are more than :data:`MAX_SUBMISSION` entries). With ``waker`` (called
        from a coroutine on its loop) each submission also carries a future to await (its
        first from :meth:`Submission.add_waiter`, made before it is queued)."""
        items = list(drafts)
        if len(items) <= MAX_SUBMISSION:
            subs = [Submission(items, mode, waker)] if items else []
        else:
            subs = [
                Submission(items[i : i + MAX_SUBMISSION], mode, waker)
                for i in range(0, len(items), MAX_SUBMISSION)
            ]
            for before, after in itertools.pairwise(subs):
                after._prev = before  # a part whose predecessor failed is not written either
        if waker is not None:
            for sub in subs:
                sub.add_waiter()
        self.enqueue(subs)
        return subs

    def enqueue(self, subs: Sequence[Submission]) -> None:
        """Queue ready-made submissions (in this order)."""
        with self._cond:
            if self._fatal is not None:
                raise self._fatal
            if self._closing:
                raise StoreError("the audit log is closed")
            was_empty = not self._queue
            count = sum(len(q.drafts) for q in subs)
            self._queue.extend(subs)
            self._queued += count
            blocking = sum(1 for q in subs if q.mode != "async")
            self._blocking += blocking
            if subs:
                self._last = subs[-1]
            # wake the writer only when it may be waiting for exactly this: work to start, a
            # full batch, or a caller that blocks (not on every fire-and-forget entry)
            if was_empty or blocking or self._queued >= self.settings.max_batch:
                self._cond.notify_all()

    def extend(self, sub: Submission, drafts: Sequence[EntryDraft]) -> int | None:
        """Add ``drafts`` to ``sub`` while it is the last submission queued and not taken yet
        (within ``max_batch``); return their offset in it, or None when ``sub`` cannot take
        them. Only the last one: anything queued after ``sub`` (another call's entries, an
        ``async`` entry) must keep its place before these drafts."""
        with self._cond:
            if sub._taken or self._fatal is not None or self._closing:
                return None
            if not self._queue or self._queue[-1] is not sub:
                return None
            if len(sub.drafts) + len(drafts) > self.settings.max_batch:
                return None
            offset = len(sub.drafts)
            sub.drafts.extend(drafts)
            self._queued += len(drafts)
            if self._queued >= self.settings.max_batch:
                self._cond.notify_all()
            return offset

    @property
    def has_async_error(self) -> bool:
        """True when an ``async`` entry failed since :meth:`take_async_error` last ran (read
        without the lock: callers check this on every append)."""
        return self._async_error is not None

    def take_async_error(self) -> MondayError | None:
        """The first failure of an ``async`` entry since the last call (then cleared)."""
        return self.take_async_failure()[0]

    def take_async_failure(self) -> tuple[MondayError | None, int]:
        """The first failure of an ``async`` entry since the last call and how many ``async``
        entries were lost since (then both cleared)."""
        with self._cond:
            error, self._async_error = self._async_error, None
            lost, self._async_lost = self._async_lost, 0
        return error, lost

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every entry submitted so far is committed (or failed)."""
        with self._cond:
            last = self._last
        if last is not None and not last.wait_sequenced(timeout):
            raise StoreError(f"timed out after {timeout} s flushing the audit log")

    def request_checkpoint(self) -> None:
        """Publish a checkpoint of the current size as soon as possible (even when idle)."""
        with self._cond:
            if self._fatal is not None:
                raise self._fatal
            self._force = True
            self._cond.notify_all()

    def close(self, timeout: float | None = None) -> None:
        """Commit what is queued, publish a final checkpoint, stop the thread (waiting for it:
        the store must not be closed under a writer still committing). Raises
        :class:`StoreError` when ``timeout`` passes first."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise StoreError(
                f"the audit writer did not finish within {timeout} s (the store is busy)",
                hint="entries still queued are committed when the writer gets the store",
            )

    # -- writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except MondayError as exc:
            log.error("audit writer stopped: %s", exc)
            self._stop(exc)
        except Exception as exc:  # pragma: no cover - a bug: fail every waiter, do not hang
            log.exception("audit writer crashed")
            self._stop(StoreError(f"the audit writer crashed: {type(exc).__name__}: {exc}"))

    def _stop(self, error: MondayError) -> None:
        with self._cond:
            self._fatal = error
            pending = [*self._current, *self._queue, *self._awaiting]
            self._current = []
            self._queue.clear()
            self._queued = 0
            self._awaiting.clear()
        for p in pending:
            p._fail(error)

    def _loop(self) -> None:
        latest = self.store.latest_checkpoint()
        self._last_publish = latest.created_at if latest else 0.0
        while True:
            batch = self._take_batch()
            if batch is None:
                break
            if batch:
                self._current = batch  # failed by _stop if the commit crashes
                self._commit(batch)
                self._current = []
            self._maybe_publish(final=False)
        self._maybe_publish(final=True)
        if self._awaiting:  # the final checkpoint failed: no later one of ours will cover them
            error = StoreError(
                "the audit log closed before a checkpoint covered these entries "
                "(they are committed)",
                hint="publish one with `monday audit checkpoint`",
            )
            awaiting, self._awaiting = self._awaiting, []
            for q in awaiting:
                q._fail(error)

    def _take_batch(self) -> list[Submission] | None:
        """The next batch; [] when a timer fired; None when closing with nothing queued."""
        s = self.settings
        with self._cond:
            while not self._queue and not self._closing:
                timeout = self._next_timer()
                if timeout is not None and timeout <= 0:
                    return []
                self._cond.wait(timeout)
            if not self._queue:
                return None
            if s.max_wait > 0 and not self._closing and self._all_async():
                deadline = time.monotonic() + s.max_wait
                while self._queued < s.max_batch and not self._closing and self._all_async():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            return self._pop_batch()

    def _pop_batch(self) -> list[Submission]:
        """Up to ``max_batch`` entries of whole submissions off the queue (lock held)."""
        batch = [self._queue.popleft()]
        total = len(batch[0].drafts)
        while self._queue and total + len(self._queue[0].drafts) <= self.settings.max_batch:
            total += len(self._queue[0].drafts)
            batch.append(self._queue.popleft())
        for q in batch:
            q._taken = True
        self._blocking -= sum(1 for q in batch if q.mode != "async")
        self._queued -= total
        return batch

    def _all_async(self) -> bool:
        return self._blocking == 0

    def _work_pending(self) -> bool:
        return bool(self._uncovered or self._awaiting or self._force)

    def _next_timer(self) -> float | None:
        """Seconds until a checkpoint is due, or None when nothing is scheduled."""
        if not self.signers:
            return None
        since = time.time() - self._last_publish
        if self._work_pending():
            return max(0.0, self.settings.checkpoint_interval - since)
        return max(0.0, self.settings.republish_interval - since)

    def _commit(self, batch: list[Submission]) -> None:
        if any(q._prev is not None and q._prev.error is not None for q in batch):
            kept = []
            for q in batch:
                failed = q._prev.error if q._prev is not None else None
                if failed is not None:
                    q._fail(failed)  # the call's earlier part failed: no hole in the middle
                else:
                    kept.append(q)
            if not kept:
                return
            batch = kept
        drafts = batch[0].drafts if len(batch) == 1 else [d for q in batch for d in q.drafts]
        try:
            indexes = self._sequencer.append(drafts)
        except MondayError as exc:
            for q in batch:
                q._fail(exc)
            lost = sum(len(q.drafts) for q in batch if q.mode == "async")
            if lost:
                with self._cond:
                    self._async_error = self._async_error or exc
                    self._async_lost += lost
            return
        pos = 0
        for q in batch:
            if q.drafts:
                q.first = indexes[pos]
            else:
                q.first = indexes[0] if indexes else 0
            pos += len(q.drafts)
            q._set_sequenced()
            if q.mode == "published":
                self._awaiting.append(q)
        self._uncovered = True

    def _maybe_publish(self, *, final: bool) -> None:
        if not self.signers:
            self._uncovered = False
            return
        s = self.settings
        now = time.time()
        work = self._work_pending()
        if final and not work:
            return
        try:
            if not final:
                wait_for = s.checkpoint_interval if work else s.republish_interval
                if now - self._last_publish < wait_for:
                    return
                latest = self.store.latest_checkpoint()
                if latest is not None and latest.created_at > self._last_publish:
                    # another process published since we last looked: respect the interval
                    self._last_publish = latest.created_at
                    self._resolve(latest.size)
                    if now - latest.created_at < wait_for and not self._force:
                        return
            made = publish_checkpoint(
                self.store, self.origin, self.signers, republish=self._force or not work
            )
            covered = made if made is not None else self.store.latest_checkpoint()
        except (IntegrityError, KeyRetired):
            raise  # the writer stops: nothing more is signed by it
        except MondayError as exc:  # a store that failed once may work again: retry later
            log.warning("audit checkpoint failed (will retry): %s", exc)
            self._last_publish = now
            self._fail_awaiting(exc)
            return
        self._force = False
        self._uncovered = False
        self._last_publish = made.created_at if made is not None else now
        if covered is not None:
            self._resolve(covered.size)

    def _fail_awaiting(self, exc: MondayError) -> None:
        """A checkpoint could not be stored: the ``published`` waiters learn it now (their
        entries are committed) instead of waiting for one that may never come."""
        if not self._awaiting:
            return
        error = StoreError(
            f"the entries are committed, but no signed checkpoint covers them yet: {exc.message}",
            hint="a later checkpoint will cover them (`monday audit checkpoint`); "
            + (exc.hint or ""),
        )
        awaiting, self._awaiting = self._awaiting, []
        for q in awaiting:
            q._fail(error)

    def _resolve(self, size: int) -> None:
        keep: list[Submission] = []
        for q in self._awaiting:
            last = q.last
            if last is None or last < size:
                q._set_published()
            else:
                keep.append(q)
        self._awaiting = keep
