"""Typed rows carry exactly the columns of their tables, and the queue's lists follow them."""

from __future__ import annotations

from dataclasses import fields

from autoplat.db import queue, queue_pg
from autoplat.db.models import GraphExecution, NodeExecution, Worker
from autoplat.db.rows import NodeRow, NodeWrite, RunRow, WorkerRow


def _columns(model: type) -> list[str]:
    return [c.name for c in model.__table__.columns]  # type: ignore[attr-defined]


def test_each_typed_row_has_the_columns_of_its_table_in_order() -> None:
    assert [f.name for f in fields(RunRow)] == _columns(GraphExecution)
    assert [f.name for f in fields(NodeRow)] == _columns(NodeExecution)
    assert [f.name for f in fields(NodeWrite)] == _columns(NodeExecution)
    assert [f.name for f in fields(WorkerRow)] == _columns(Worker)


def test_the_queue_statements_name_every_column_of_the_tables() -> None:
    assert tuple(_columns(GraphExecution)) == queue.RUN_COLUMNS
    assert tuple(_columns(NodeExecution)) == queue.NODE_COLUMNS
    write = str(queue_pg._write_statement())
    submit = str(queue_pg._submit_statement())
    for column in queue.NODE_COLUMNS:
        assert column in write and column in submit
    for column in queue.RUN_COLUMNS:
        assert column in submit


def test_a_row_is_built_from_a_mapping_of_its_columns() -> None:
    row = RunRow.from_row(
        {
            "id": "r",
            "user_id": "u",
            "graph_id": "g",
            "graph_version": 1,
            "status": "QUEUED",
            "inputs": {},
            "outputs": {},
            "stats": {},
            "extra": "ignored",
        }
    )
    assert row.id == "r" and row.attempts == 0
    assert row.as_dict()["graph_version"] == 1 and "extra" not in row.as_dict()
