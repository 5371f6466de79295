"""Every row of one store copied into another, empty one (``apns-bot migrate-store``).

Tables go in foreign-key order, each in the order its rows were written, as stored: sealed values
stay sealed (both stores are opened with the same ``APNS_TOKEN_KEY``, or none), and no value
passes through a dataclass that could drop a column. Audit events get new ids on the target in
their original order, so history reads the same. All of it is one write transaction on the
target: a copy that fails leaves the target as empty as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.adapters.store.codec import REQUEST_COLUMNS
from bot.adapters.store.signins import FLOW_COLUMNS, SIGNIN_COLUMNS
from bot.adapters.store.sql import Database
from bot.errors import StoreError


@dataclass(frozen=True)
class Table:
    name: str
    label: str  # what the count is called in the report
    columns: str
    order: str


TABLES = (
    Table("change_requests", "requests", REQUEST_COLUMNS, "created_at, id"),
    Table("approvals", "approvals", "request_id, tenant, user_id, at", "rowid"),
    Table("audit_events", "history events", "tenant, request_id, at, actor, event, detail", "id"),
    Table("notices", "notice marks", "tenant, key, at", "tenant, key"),
    Table("tenant_state", "state values", "tenant, key, value, updated_at", "tenant, key"),
    Table("delegated_signins", "sealed sign-ins", SIGNIN_COLUMNS, "tenant, user_id"),
    Table("device_flows", "device flows", FLOW_COLUMNS, "tenant, user_id"),
    Table("signin_waits", "sign-in waits", "request_id, tenant, user_id, created_at", "request_id"),
)


def copy_all(source: Database, target: Database) -> dict[str, int]:
    """Copy every table; the number of rows copied, per table label. ``StoreError`` when the
    target already holds anything."""
    with source.transaction(write=False) as read, target.transaction(write=True) as write:
        # no replica writes between the emptiness check and the copy's commit
        target.lock_tables(write, [table.name for table in TABLES])
        for table in TABLES:
            count = write.execute(f"SELECT count(*) AS n FROM {table.name}").fetchone()  # noqa: S608
            if int(count["n"]):
                raise StoreError(
                    f"The target store is not empty ({table.name} has rows): migrate-store "
                    "only copies into a new, empty database."
                )
        copied: dict[str, int] = {}
        for table in TABLES:
            marks = ", ".join("?" * len(table.columns.split(",")))
            insert = f"INSERT INTO {table.name} ({table.columns}) VALUES ({marks})"  # noqa: S608
            rows = read.execute(
                f"SELECT {table.columns} FROM {table.name} ORDER BY {table.order}"  # noqa: S608
            ).fetchall()
            names = [c.strip() for c in table.columns.split(",")]
            for number, row in enumerate(rows, start=1):
                values = [row[name] for name in names]
                _check_no_nul(table, number, names, values)
                write.execute(insert, values)
            copied[table.label] = len(rows)
        return copied


def _check_no_nul(table: Table, number: int, names: list[str], values: list[object]) -> None:
    """PostgreSQL's text holds no NUL character (SQLite's may): name the row, never its value."""
    for name, value in zip(names, values, strict=True):
        if isinstance(value, str) and "\x00" in value:
            raise StoreError(
                f"Row {number} of {table.name} (in {table.order} order) holds a NUL character in "
                f"{name}, which PostgreSQL cannot store: remove it from the SQLite file and copy "
                "again (the target was left empty)."
            )
