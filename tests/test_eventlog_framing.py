"""Property tests of the frame format: round trips, torn tails, corruption."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventlog import CorruptLog, Event, EventLog, read_records, verify
from eventlog.segments import list_segments

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
events = st.builds(Event, st.text(min_size=1, max_size=30), values, st.integers(min_value=1, max_value=5))
batches = st.lists(st.lists(events, min_size=1, max_size=5), min_size=1, max_size=12)


def write_log(directory: str, batches: list[list[Event]], segment_bytes: int = 1 << 20) -> list:
    """Append the batches (one write+fsync each) and return every record."""
    with EventLog(directory, segment_bytes=segment_bytes) as log:
        return [r for batch in batches for r in log.append_sync(batch)]


@SETTINGS
@given(batches=batches, segment_bytes=st.sampled_from([64, 300, 1 << 20]))
def test_any_events_round_trip(batches: list[list[Event]], segment_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        written = write_log(d, batches, segment_bytes)
        assert [r.seq for r in written] == list(range(1, len(written) + 1))
        with EventLog(d) as log:
            assert log.recovered is None and log.last_seq == len(written)
            assert list(log.read()) == written
            assert list(log.read(len(written))) == written[-1:]
        assert verify(d).problem is None


def _last_frame(directory: str) -> tuple[str, int, int]:
    """(path, offset, size) of the last frame of the last segment."""
    path = list_segments(directory)[-1].path
    size = os.path.getsize(path)
    offsets = [0]
    data = open(path, "rb").read()
    while True:
        length = int.from_bytes(data[offsets[-1] : offsets[-1] + 4], "little")
        nxt = offsets[-1] + 8 + length
        if nxt >= size:
            return path, offsets[-1], size
        offsets.append(nxt)


@SETTINGS
@given(batches=batches)
def test_truncating_the_last_frame_anywhere_loses_only_that_frame(batches: list[list[Event]]) -> None:
    with tempfile.TemporaryDirectory() as base:
        original = os.path.join(base, "log")
        written = write_log(original, batches, segment_bytes=256)
        path, start, size = _last_frame(original)
        for cut in range(start, size):
            trial = os.path.join(base, f"cut{cut}")
            shutil.copytree(original, trial)
            seg = os.path.join(trial, os.path.basename(path))
            os.truncate(seg, cut)
            with EventLog(trial) as log:
                assert log.last_seq == len(written) - 1
                assert list(log.read()) == written[:-1]
                assert (log.recovered is None) == (cut == start)
                log.append_sync([Event("after", {"cut": cut})])
            assert verify(trial).problem is None
            shutil.rmtree(trial)


@SETTINGS
@given(batches=batches, where=st.floats(min_value=0, max_value=1), bit=st.integers(min_value=0, max_value=7))
def test_a_flipped_byte_in_a_non_final_segment_is_reported_where_it_is(
    batches: list[list[Event]], where: float, bit: int
) -> None:
    with tempfile.TemporaryDirectory() as d:
        write_log(d, batches + [[Event("x", "y" * 50)], [Event("x", "z" * 50)]], segment_bytes=100)
        segments = list_segments(d)
        assert len(segments) >= 2
        seg = segments[len(segments) // 2 - 1] if len(segments) > 2 else segments[0]
        data = bytearray(open(seg.path, "rb").read())
        pos = min(len(data) - 1, int(where * len(data)))
        frame_offset, offset = 0, 0
        while offset <= pos:  # the frame that holds `pos`
            frame_offset = offset
            offset += 8 + int.from_bytes(data[offset : offset + 4], "little")
        data[pos] ^= 1 << bit
        open(seg.path, "wb").write(bytes(data))
        with pytest.raises(CorruptLog) as info:
            list(read_records(d))
        assert (info.value.file, info.value.offset) == (seg.path, frame_offset)
        problem = verify(d).problem
        assert problem is not None and not problem.torn_tail
        assert (problem.file, problem.offset) == (seg.path, frame_offset)


def test_a_bad_frame_followed_by_good_ones_in_the_last_segment_is_not_truncated(tmp_path) -> None:
    d = str(tmp_path)
    write_log(d, [[Event("a", i)] for i in range(10)])
    path = list_segments(d)[-1].path
    data = bytearray(open(path, "rb").read())
    data[20] ^= 0xFF  # inside the first frame's payload
    open(path, "wb").write(bytes(data))
    with pytest.raises(CorruptLog) as info:
        EventLog(d)
    assert info.value.offset == 0 and info.value.seq == 1
    assert os.path.getsize(path) == len(data), "a corrupt log must not be truncated on open"


def test_a_zero_filled_tail_is_a_torn_write(tmp_path) -> None:
    d = str(tmp_path)
    write_log(d, [[Event("a", i)] for i in range(5)])
    path = list_segments(d)[-1].path
    with open(path, "ab") as f:
        f.write(b"\0" * 4096)
    with EventLog(d) as log:
        assert log.last_seq == 5 and log.recovered is not None and log.recovered.dropped_bytes == 4096
