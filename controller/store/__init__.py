"""The SQLite store: one writer thread, read-only readers, numbered migrations.

See ``docs/store.md`` for the schema and the rules (WAL, batched commits, durability,
retention, export and erase).
"""

from controller.store.reader import StoreReader
from controller.store.records import RECORDED, Insert, Sql
from controller.store.retention import Purged
from controller.store.store import Store
from controller.store.writer import StoreWriter, TraceRecord, WriterStats

__all__ = [
    "RECORDED",
    "Insert",
    "Purged",
    "Sql",
    "Store",
    "StoreReader",
    "StoreWriter",
    "TraceRecord",
    "WriterStats",
]
