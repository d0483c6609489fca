"""Starts the local BigQuery (PyPI bqemulator) without time-travel snapshots.

bqemulator copies the whole table into a snapshot after every write, so that
`FOR SYSTEM_TIME AS OF` queries can be answered. livecharts never asks for
time travel, and the copies make each write cost as much as the table holds:
appends slow down as the table grows, and a copy running while a query is
reading the same connection fails with "closed pending query result". This
entry point keeps the emulator's change notifications (its query cache
depends on them) and skips only the copy. Arguments are bqemulator's own.
"""

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc.aio
import uvicorn

from bqemulator.cli import main
from bqemulator.grpc_api.write_servicer import BigQueryWriteHandler
from bqemulator.storage.engine import DuckDBEngine
from bqemulator.domain.events import TableDataChanged
from bqemulator.versioning.snapshots import SnapshotManager


def _changed_without_snapshot(self, project_id, dataset_id, table_id):
    self._events.publish(TableDataChanged(project_id, dataset_id, table_id))
    return None


SnapshotManager.record_change = _changed_without_snapshot

# Storage Write appends run on gRPC's worker threads while REST requests run
# on the event loop's thread, and bqemulator gives both the same DuckDB
# connection, which is not safe across threads: an append dropping its
# temporary view waits for the GIL while holding the connection, as a REST
# request holding the GIL waits for the connection, and the emulator hangs
# for good (seen with gdb). Each append thread writes through a cursor of
# its own (its own connection to the same database) instead.
_local = threading.local()
_shared_connection = DuckDBEngine.connection.fget


def _thread_connection(self):
    cursor = getattr(_local, "cursor", None)
    return cursor if cursor is not None else _shared_connection(self)


def _flush_on_own_cursor(self, stream, rows):
    if getattr(_local, "own", None) is None:
        _local.own = _shared_connection(self._ctx.engine).cursor()
        _local.own.execute("SET TimeZone = 'UTC'")
    _local.cursor = _local.own
    try:
        return _flush_to_target(self, stream, rows)
    finally:
        _local.cursor = None


_flush_to_target = BigQueryWriteHandler._flush_to_target
DuckDBEngine.connection = property(_thread_connection)
BigQueryWriteHandler._flush_to_target = _flush_on_own_cursor

# gRPC runs bqemulator's (synchronous) handlers on a thread pool, and each
# open AppendRows stream holds one thread for as long as it is open. The
# default pool has cpu count + 4 threads (6 on 2 cores): a few consumers'
# streams took them all, and every further call waited for good.
_grpc_server = grpc.aio.server


def _server_with_threads(*args, **kwargs):
    kwargs.setdefault(
        "migration_thread_pool",
        ThreadPoolExecutor(max_workers=128, thread_name_prefix="grpc"),
    )
    return _grpc_server(*args, **kwargs)


grpc.aio.server = _server_with_threads

# uvicorn closes a REST connection after 5 s idle. A client that sends its
# next request on that connection as it closes gets no answer at all and
# waits out its deadline (measured: 1 in 120 queries sent about 5 s apart
# hung for the full 15 s deadline). Clients close their idle connections
# first (Deno's fetch after 90 s) when the server keeps them 120 s.
_uvicorn_config_init = uvicorn.Config.__init__


def _config_keeping_connections(self, *args, **kwargs):
    kwargs.setdefault("timeout_keep_alive", 120)
    _uvicorn_config_init(self, *args, **kwargs)


uvicorn.Config.__init__ = _config_keeping_connections

if __name__ == "__main__":
    sys.exit(main())
