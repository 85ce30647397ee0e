"""Peak and current resident memory from a (fake) /proc."""

from __future__ import annotations

from pathlib import Path

from bench.memory import children, measure, status_kib, tree

STATUS = """Name:\tpython
State:\tS (sleeping)
VmPeak:\t  500000 kB
VmHWM:\t  {hwm} kB
VmRSS:\t  {rss} kB
Threads:\t4
"""


def fake_process(proc: Path, pid: int, hwm: int, rss: int, kids: dict[int, list[int]]) -> None:
    """``kids`` maps a thread id of the process to the children it started."""
    folder = proc / str(pid)
    folder.mkdir(parents=True)
    (folder / "status").write_text(STATUS.format(hwm=hwm, rss=rss))
    (folder / "cmdline").write_bytes(b"python\0-m\0worker\0")
    for thread, pids in kids.items():
        (folder / "task" / str(thread)).mkdir(parents=True)
        (folder / "task" / str(thread) / "children").write_text(" ".join(map(str, pids)) + " ")


def test_status_fields_in_kib() -> None:
    fields = status_kib(STATUS.format(hwm=2048, rss=1024))
    assert fields["VmHWM"] == 2048
    assert fields["VmRSS"] == 1024
    assert "Threads" not in fields
    assert "Name" not in fields


def test_a_lone_process(tmp_path: Path) -> None:
    fake_process(tmp_path, 10, hwm=204_800, rss=102_400, kids={10: []})
    found = measure("worker", 10, proc=tmp_path)
    assert found.peak_rss_mib == 200.0
    assert found.rss_mib == 100.0
    assert found.processes == 1
    assert found.command == "python -m worker"


def test_a_wrapper_counts_with_its_descendants(tmp_path: Path) -> None:
    fake_process(tmp_path, 10, hwm=10_240, rss=10_240, kids={10: [11], 12: [13]})
    fake_process(tmp_path, 11, hwm=102_400, rss=51_200, kids={11: [14]})
    fake_process(tmp_path, 13, hwm=20_480, rss=20_480, kids={})
    fake_process(tmp_path, 14, hwm=1_024, rss=1_024, kids={})
    assert children(10, tmp_path) == [11, 13]
    assert tree(10, tmp_path) == [10, 11, 13, 14]
    found = measure("api", 10, proc=tmp_path)
    assert found.processes == 4
    assert found.peak_rss_mib == 131.0
    assert found.rss_mib == 81.0
    alone = measure("api", 10, descendants=False, proc=tmp_path)
    assert alone.processes == 1
    assert alone.peak_rss_mib == 10.0


def test_a_process_that_is_gone_has_no_figures(tmp_path: Path) -> None:
    found = measure("api", 99, proc=tmp_path)
    assert found.peak_rss_mib is None
    assert found.rss_mib is None
    assert found.processes == 0
