"""Force an interleaving: run something else while a store's transaction sits between a read and
the write it decides, so a test sees whether the read's lock holds the other writer off.

``pause_after(store, "FROM tenant_state", action)`` wraps the store's database: the first
statement whose SQL holds the text runs, then ``action`` runs on the same thread, inside the still
open transaction. ``racing`` starts the other writer on a thread and gives it a moment: when the
row is locked it is still waiting when the moment ends, and finishes after the commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from bot.adapters.store import SqlStore
from bot.adapters.store.sql import Conn, Cursor, Database

# long enough for a writer that is not held off to finish; a held-off one waits for the commit
MOMENT = 0.5


class _Conn:
    def __init__(self, conn: Conn, trigger: Callable[[str], None]) -> None:
        self._conn, self._trigger = conn, trigger

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        cursor = self._conn.execute(sql, parameters)
        self._trigger(sql)
        return cursor


class _Paused:
    def __init__(self, db: Database, marker: str, action: Callable[[], None]) -> None:
        self._db, self._marker, self._action, self.fired = db, marker, action, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def _trigger(self, sql: str) -> None:
        if not self.fired and self._marker in sql:
            self.fired = True
            self._action()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Conn]:
        with self._db.transaction(write=write) as conn:
            yield _Conn(conn, self._trigger)


def pause_after(store: SqlStore, marker: str, action: Callable[[], None]) -> _Paused:
    """Wrap ``store``'s database (for the rest of its life); the wrapper says whether it fired."""
    paused = _Paused(store._db, marker, action)
    store._db = cast(Database, paused)
    return paused


class Racer:
    """``work`` on a thread of its own; ``result`` once it has finished."""

    def __init__(self, work: Callable[[], object]) -> None:
        self._work, self.result, self.error = (
            work,
            cast(object, None),
            cast(BaseException | None, None),
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.held_off = False  # still waiting when its moment ended

    def _run(self) -> None:
        try:
            self.result = self._work()
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.error = exc

    def start(self) -> None:
        """Start, and give the work a moment (it is still running if a lock holds it off)."""
        self._thread.start()
        self._thread.join(MOMENT)
        self.held_off = self._thread.is_alive()

    def finish(self) -> object:
        self._thread.join(30)
        assert not self._thread.is_alive(), "the racing writer never finished"
        if self.error is not None:
            raise self.error
        return self.result
