"""OutboxCollector: a commit participant that appends its batch only if the commit succeeds.

Rules / theory of operation:

* Any transaction manager that calls ``on_commit(version, conn)`` inside its commit
  (raising aborts the commit) and ``on_rollback()`` on rollback can host a collector —
  theus-state's ``tx.attach(collector)`` does. theus-signals never imports theus-state:
  :class:`CommitParticipant` is the whole contract.
* ``on_commit``: an empty batch does nothing. With ``conn`` (the transaction's sqlite3
  connection) and a :class:`SqliteOutboxStore`, the rows go through ``conn`` in the
  caller's SQL transaction (:meth:`SqliteOutboxStore.append_in`): they commit or roll back
  with it. Otherwise the batch is one ``store.append`` (atomic in the store).
* ``on_rollback``: the batch is dropped. If ``on_commit`` had already appended it through
  the store itself (the commit failed later, e.g. in another participant), the appended
  messages are withdrawn again with ``store.discard``: no phantom messages.
* Lifetime: one collector per transaction. A rollback empties it and it may collect
  again (e.g. for the retry of a conflicting transaction); once ``on_commit`` succeeded
  it is spent: ``add``, ``extend`` and another ``on_commit`` raise :class:`OutboxError`
  (only the ``on_rollback`` of that same, failing commit is still accepted). This keeps a
  later rollback from withdrawing the messages of an earlier, committed transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from ._outbox import OutboxMessage, OutboxStore, check_messages
from ._sqlite_store import SqliteOutboxStore
from .exceptions import OutboxError

__all__ = ["CommitParticipant", "OutboxCollector"]


@runtime_checkable
class CommitParticipant(Protocol):
    """An object that takes part in a transaction's commit (``tx.attach(participant)``)."""

    def on_commit(self, version: int, conn: sqlite3.Connection | None) -> None:
        """Runs inside the commit; raising aborts it. ``conn`` is the durable journal's
        sqlite3 connection (its transaction is open), else None."""

    def on_rollback(self) -> None:
        """Runs when the transaction rolls back (also after a failed ``on_commit``)."""


class OutboxCollector:
    """Collects outbox messages during one transaction and hands them to ``store`` only
    when that transaction commits (``tx.attach(collector)``)."""

    def __init__(self, store: OutboxStore) -> None:
        if not isinstance(store, OutboxStore):
            raise TypeError(f"store must be an outbox store, not {type(store).__name__}")
        self._store = store
        self._batch: list[OutboxMessage] = []
        self._appended: list[str] = []
        self._version: int | None = None
        self._committed = False

    @property
    def store(self) -> OutboxStore:
        return self._store

    @property
    def messages(self) -> tuple[OutboxMessage, ...]:
        """The messages collected so far in the current transaction."""
        return tuple(self._batch)

    @property
    def committed_version(self) -> int | None:
        """Version of the commit that carried this collector's batch, once committed."""
        return self._version if self._committed else None

    def _check_open(self) -> None:
        if self._committed:
            raise OutboxError(
                f"this OutboxCollector's transaction already committed (version"
                f" {self._version}); use a new OutboxCollector per transaction"
            )

    def __len__(self) -> int:
        return len(self._batch)

    def add(
        self, message: OutboxMessage | str, payload: Any = None, *, key: str | None = None
    ) -> OutboxMessage:
        """Add a message (an :class:`OutboxMessage`, or ``topic, payload, key=``) to the
        batch; returns it."""
        self._check_open()
        if isinstance(message, OutboxMessage):
            if payload is not None or key is not None:
                raise TypeError("pass either an OutboxMessage or topic/payload/key, not both")
        else:
            message = OutboxMessage(message, payload, key)
        self._batch.append(message)
        return message

    def extend(self, messages: Iterable[OutboxMessage]) -> None:
        self._check_open()
        self._batch.extend(check_messages(messages))

    def on_commit(self, version: int, conn: sqlite3.Connection | None) -> None:
        self._check_open()
        batch = self._batch
        store = self._store
        if batch:
            if conn is not None and isinstance(store, SqliteOutboxStore):
                store.append_in(conn, batch)
            else:
                store.append(batch)
                self._appended = [m.key for m in batch]
        self._batch = []
        self._version = version
        self._committed = True

    def on_rollback(self) -> None:
        self._batch = []
        self._committed = False
        self._version = None
        appended, self._appended = self._appended, []
        if appended:
            self._store.discard(appended)

    def __repr__(self) -> str:
        return f"<OutboxCollector batch={len(self._batch)} store={self._store!r}>"
