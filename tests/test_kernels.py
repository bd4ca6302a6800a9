"""The work-splitting helpers give what one call gives, in order, and never deadlock nested."""

import threading

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from claude_perf.runtime import parallel as kernels


def test_kernel_on_halves_equals_one_call(monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_ROWS", 4)
    lines = pa.array([f"line {i} {'ERROR' if i % 3 else 'INFO'}" for i in range(101)])
    assert kernels.kernel(pc.match_substring, lines, "ERROR").equals(
        pc.match_substring(lines, "ERROR")
    )


def test_parallel_map_keeps_order_and_runs_nested_calls_in_place():
    def outer(item: int) -> list[int]:
        # A part calling parallel_map again: run here, on this thread, or the pool could deadlock.
        return kernels.parallel_map(lambda x: (x, threading.current_thread().name), [item, item])

    results = kernels.parallel_map(outer, [1, 2, 3])
    assert [[x for x, _ in pair] for pair in results] == [[1, 1], [2, 2], [3, 3]]
    assert all(pair[0][1] == pair[1][1] for pair in results)


def test_parallel_map_raises_a_part_error_after_all_parts_finished():
    done = []

    def part(item: int) -> int:
        if item == 0:
            raise ValueError("part 0 failed")
        done.append(item)
        return item

    with pytest.raises(ValueError, match="part 0 failed"):
        kernels.parallel_map(part, [0, 1, 2])
    assert sorted(done) == [1, 2]
