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
