"""A process that works for the venue in the background: the lowest CPU priority the kernel offers
an unprivileged process, across sessions, not only within its own.

Niceness alone is not enough on Linux with autogroups (`kernel.sched_autogroup_enabled`, on by
default on desktop and many server kernels): a process's nice value only ranks it against the
other processes of its session; the session itself competes with every other session as one,
at the weight of nice 0. A follower at nice 19 in the venue's session therefore still took CPU
from the venue's clients (other sessions) at full weight: on a 2-core machine its pickling of
the state doubled the p99 of a client's orders (bench/checkpoint_stall.py). Started in a session
of its own (`start_new_session=True`) whose autogroup is set to nice 19, it weighs 15 against
every other session's 1024, whoever runs them.
"""

from __future__ import annotations

import contextlib
import os
import time

__all__ = ["BACKGROUND_NICE", "Pacer", "lower_priority"]

#: the niceness of background work: the lowest priority of SCHED_OTHER
BACKGROUND_NICE = 19
#: the kernel refuses an unprivileged autogroup change within 0.1 s of the last one (anyone's)
_AUTOGROUP_WAIT_S = 0.11
#: the sleep a pacer owes before it takes it (s): shorter sleeps cost more than they spread
_MIN_SLEEP_S = 0.0002


def lower_priority(pid: int = 0) -> bool:
    """Put process `pid` (0: this one) at nice 19, and its session's autogroup too when the
    kernel has autogroups (the process should lead a session of its own: see the module
    docstring). Best effort, never raises: whether the autogroup was set (False: no autogroups,
    another OS, or the kernel's rate limit on autogroup changes by unprivileged users, met
    twice 0.11 s apart)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, pid, BACKGROUND_NICE)
    for attempt in range(2):
        try:
            with open(f"/proc/{pid or 'self'}/autogroup", "w") as f:
                f.write(str(BACKGROUND_NICE))
            return True
        except BlockingIOError:  # another autogroup changed within 0.1 s (the kernel's limit): once more
            if attempt == 0:
                time.sleep(_AUTOGROUP_WAIT_S)
        except OSError:
            return False
    return False



class Pacer:
    """Keeps a thread's work to `duty` (0 < duty <= 1) of the time it spends: `pace()`, called
    between small pieces of work, sleeps what the CPU time this thread used since the last call
    owes ((1 - duty) / duty of it), once that reaches 0.2 ms.

    Why: however low its priority, a process that runs when a venue thread wakes on its core
    can hold that thread until the scheduler's next tick (4 ms at HZ=250; a kernel without
    preemption holds it through system calls too), and on a shared machine both cores are busy
    often. Work done in bursts of a few tenths of a millisecond with sleeps between leaves the
    venue's threads free turns. CPU time, not wall time, is what is paced: a process kept off
    the CPU by others is not slowed twice."""

    def __init__(self, duty: float) -> None:
        if not 0.0 < duty <= 1.0:
            raise ValueError("duty must be in (0, 1]")
        self.duty = duty
        self._cpu = time.thread_time()
        self._owed = 0.0  # sleep owed (s)

    def pace(self) -> None:
        """Sleep what the CPU time this thread used since the last call owes ((1 - duty) / duty of it) once the debt
        reaches 0.2 ms; nothing at duty 1."""
        if self.duty >= 1.0:
            return
        cpu = time.thread_time()
        self._owed += (cpu - self._cpu) * (1.0 - self.duty) / self.duty
        if self._owed >= _MIN_SLEEP_S:
            t0 = time.monotonic()
            time.sleep(self._owed)
            self._owed -= time.monotonic() - t0  # (overslept: owed less next time)
        self._cpu = time.thread_time()
