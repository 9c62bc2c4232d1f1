"""State is a fold over the log: from scratch, from a snapshot + tail, and through the real Store."""

from __future__ import annotations

import asyncio
import tempfile
import time

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventlog import Record, read_records
from pdxsrv.domain import commands as c
from pdxsrv.domain import jobs
from pdxsrv.domain.apply import fold
from pdxsrv.domain.codec import from_data, to_data
from pdxsrv.domain.errors import DomainError, InvalidArgument
from pdxsrv.domain.events import to_log_event
from pdxsrv.domain.state import EMPTY, Workspace
from pdxsrv.store import Store, events_dir

TYPES = ["classification", "detection"]  # few types, so that bindings often match
names = st.text(min_size=1, max_size=6)
params = st.dictionaries(st.sampled_from(["model", "backbone", "learning_rate", "num_epochs", "with_fpn"]),
                         st.integers(0, 9) | st.text(max_size=4) | st.booleans(), max_size=4)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("dataset"), names, st.sampled_from(TYPES)),
        st.tuples(st.just("project"), names, st.sampled_from(TYPES)),
        st.tuples(st.just("bind"), st.integers(0, 20), st.integers(0, 20)),
        st.tuples(st.just("task"), st.integers(0, 20), params),
        st.tuples(st.just("params"), st.integers(0, 40), params),
        st.tuples(st.just("rename"), st.sampled_from(["dataset", "project", "task"]), st.integers(0, 40), names),
        st.tuples(st.just("delete"), st.sampled_from(["dataset", "project", "task"]), st.integers(0, 40)),
        st.tuples(st.just("model"), st.integers(0, 40), names, st.booleans()),
        st.tuples(st.just("delete_model"), st.booleans(), st.integers(0, 10)),
        st.tuples(st.just("job"), st.integers(0, 3), st.sampled_from(["queued", "running", "failed", "exited"])),
        st.tuples(st.just("report"), st.integers(0, 3),
                  st.lists(st.sampled_from(["progress", "metric", "log", "done"]), min_size=1, max_size=5)),
    ),
    min_size=5,
    max_size=80,
)


def pick(mapping, index: int) -> str:
    keys = sorted(mapping)
    return keys[index % len(keys)] if keys else "none"


def decide(state: Workspace, op: tuple) -> list:
    """Turn a generated operation into a command call on the current state (it may be refused)."""
    kind = op[0]
    if kind == "dataset":
        return c.create_dataset(state, op[1], "", op[2])
    if kind == "project":
        return c.create_project(state, op[1], "", op[2])
    if kind == "bind":
        pid = pick(state.projects, op[1])
        same_type = {k: d for k, d in state.datasets.items() if pid in state.projects and d.type == state.projects[pid].type}
        return c.set_attributes(state, "project", pid, {"did": pick(same_type or state.datasets, op[2])})
    if kind == "task":
        bound = {k: p for k, p in state.projects.items() if p.did}
        return c.create_task(state, pick(bound or state.projects, op[1]), op[2])
    if kind == "params":
        return c.set_task_params(state, pick(state.tasks, op[1]), op[2])
    if kind == "rename":
        collection = {"dataset": state.datasets, "project": state.projects, "task": state.tasks}[op[1]]
        return c.set_attributes(state, op[1], pick(collection, op[2]), {"name": op[3]})
    if kind == "delete":
        command = {"dataset": c.delete_dataset, "project": c.delete_project, "task": c.delete_task}[op[1]]
        collection = {"dataset": state.datasets, "project": state.projects, "task": state.tasks}[op[1]]
        return command(state, pick(collection, op[2]))
    if kind == "model":
        tid = pick(state.tasks, op[1])
        pid = state.tasks[tid].pid if tid in state.tasks else "none"
        if op[3]:
            return c.create_pretrained_model(state, pid, tid, op[2])
        return c.create_exported_model(state, pid, tid, op[2], "/tmp/x", 0)
    if kind == "job":
        return jobs.job_seen(state, {"job": f"T{op[1] + 1:04d}.train.1", "state": op[2], "pid": op[1]})
    if kind == "report":
        job = state.jobs.get(f"T{op[1] + 1:04d}.train.1")
        first = job.journal_seq + 1 if job else 1
        records = [{"seq": first + i, "type": k, "data": {"i": i}} for i, k in enumerate(op[2])]
        return jobs.job_reports(state, f"T{op[1] + 1:04d}.train.1", records)
    if op[1]:
        return c.delete_pretrained_model(state, pick(state.pretrained_models, op[2]))
    return c.delete_exported_model(state, pick(state.exported_models, op[2]))


# Every generated sequence starts from a populated workspace, so that later operations have targets.
SETUP = [("dataset", "d", "classification"), ("dataset", "d", "detection"), ("project", "p", "classification"),
         ("project", "p", "detection"), ("bind", 0, 0), ("bind", 1, 1), ("task", 0, {"model": "MobileNetV2"}),
         ("task", 1, {"model": "FasterRCNN", "backbone": "ResNet18", "with_fpn": True}), ("model", 0, "m", True),
         ("model", 1, "m", False)]


def run(operations: list[tuple]) -> tuple[list[Record], Workspace]:
    """Decide and fold each operation as the server does; return the records and the final state."""
    state, records = EMPTY, []
    for op in SETUP + operations:
        try:
            events = decide(state, op)
        except DomainError:
            continue
        new = [Record(state.seq + i + 1, time.time(), e.type, e.v, e.data)
               for i, e in enumerate(map(to_log_event, events))]
        records.extend(new)
        state = fold(new, state)
    return records, state


@settings(max_examples=150, deadline=None)
@given(operations=ops, cut=st.floats(0, 1))
def test_fold_from_scratch_equals_snapshot_plus_tail(operations: list[tuple], cut: float) -> None:
    records, final = run(operations)
    assert fold(records) == final
    k = int(cut * len(records))
    snapshot = msgpack.unpackb(msgpack.packb(to_data(fold(records[:k])), use_bin_type=True))
    assert fold(records[k:], from_data(snapshot)) == final


@settings(max_examples=15, deadline=None)
@given(operations=ops, every=st.integers(1, 10))
def test_the_store_reopens_to_the_same_state(operations: list[tuple], every: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        async def first() -> Workspace:
            store = Store(root, snapshot_every=every)
            for op in SETUP + operations:
                try:
                    await store.execute(lambda state, op=op: decide(state, op))
                except DomainError:
                    pass
            state = await store.durable_state()
            await store.log.aclose()  # no final snapshot: the next open folds the tail
            return state

        before = asyncio.run(first())

        async def second() -> Workspace:
            store = Store(root)
            state = store.state
            await store.aclose()
            return state

        after = asyncio.run(second())
        assert after == before == fold(read_records(events_dir(root)))


def test_a_value_the_log_cannot_store_is_refused_and_changes_nothing(tmp_path) -> None:
    async def main() -> None:
        store = Store(str(tmp_path))
        await store.execute(c.create_project, "p", "", "classification")
        await store.execute(c.create_dataset, "d", "", "classification")
        await store.execute(c.set_attributes, "project", "P0001", {"did": "D0001"})
        before = store.state
        with pytest.raises(InvalidArgument) as info:
            await store.execute(c.create_task, "P0001", {"cpu_num": 2**70})  # an ignored key takes any value
        assert "cannot be stored" in info.value.message
        assert store.state is before and store.log.last_seq == before.seq
        await store.execute(c.create_task, "P0001", {"cpu_num": 2})
        assert list(store.state.tasks) == ["T0001"]
        await store.aclose()

    asyncio.run(main())
