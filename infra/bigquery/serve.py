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

from bqemulator.cli import main
from bqemulator.domain.events import TableDataChanged
from bqemulator.versioning.snapshots import SnapshotManager


def _changed_without_snapshot(self, project_id, dataset_id, table_id):
    self._events.publish(TableDataChanged(project_id, dataset_id, table_id))
    return None


SnapshotManager.record_change = _changed_without_snapshot

if __name__ == "__main__":
    sys.exit(main())
