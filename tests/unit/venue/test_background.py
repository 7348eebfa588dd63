"""Background work at the lowest priority across sessions (venue/background.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perpsim.venue.background import BACKGROUND_NICE, lower_priority

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def _nice_and_session(pid: int) -> tuple[int, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16]), int(fields[3])


def test_a_process_in_a_session_of_its_own_is_put_at_the_lowest_priority_and_so_is_its_autogroup():
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                          start_new_session=True) as child:
        set_group = lower_priority(child.pid)
        nice, session = _nice_and_session(child.pid)
        assert (nice, session) == (BACKGROUND_NICE, child.pid)
        autogroup = Path(f"/proc/{child.pid}/autogroup")
        if autogroup.exists():  # a kernel with autogroups: the session's group weighs nice 19 too
            assert set_group and autogroup.read_text().split()[-1] == str(BACKGROUND_NICE)
            assert Path("/proc/self/autogroup").read_text() != autogroup.read_text()  # not ours
        else:
            assert not set_group
        child.kill()


def test_a_process_that_is_gone_is_no_error():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert lower_priority(child.pid) is False


def test_a_pacer_sleeps_the_share_of_cpu_time_its_duty_leaves():
    import time

    from perpsim.venue.background import Pacer

    pacer = Pacer(0.5)
    cpu0, wall0 = time.thread_time(), time.monotonic()
    for _ in range(30):
        end = time.thread_time() + 0.001
        while time.thread_time() < end:  # 1 ms of CPU a piece
            pass
        pacer.pace()
    cpu, wall = time.thread_time() - cpu0, time.monotonic() - wall0
    # off the CPU about as long as on it (the sleeps' own system calls count as CPU time here
    # but are not paced: 0.8 of it is the bound that cannot fail by accident)
    assert wall - cpu >= 0.8 * cpu
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="duty"):
            Pacer(bad)
