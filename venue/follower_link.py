"""The venue's end of one snapshot follower process (venue/snapshot_follower.py).

`FollowerLink(spec, durable, on_reply, on_exit)`, once `start()`ed, starts the follower from a
thread of its own and reads its replies there until it exits. The follower dies with that thread
(PR_SET_PDEATHSIG: the thread that started a process is its "parent" for that signal), which
lives exactly as long as the follower does, and with the venue's process.

`send(kind, seq)` is what the sequencer calls: one write of 9 bytes to a non-blocking pipe,
never waiting. A pipe found full (a follower stopped for a while) keeps the messages in order
in memory, a run of durable-seq messages folded into its latest, and sends them with the next
one. Messages sent before the follower has started wait the same way.

The process is started with `subprocess` (`posix_spawn`/`vfork`: no copy of the venue's page
tables, unlike the fork a forked snapshot writer costs), closing every descriptor but the two
pipes: the follower never holds the journal's lock or a socket of the venue. It leads a session
of its own, put at the lowest priority as soon as it is started (venue/background.py: with
autogroups, a nice value ranks a process only within its session).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

from perpsim.venue.background import lower_priority
from perpsim.venue.snapshot_follower import DURABLE, MESSAGE, REPLY, SPEC_LEN, FollowerSpec

__all__ = ["FollowerLink"]

log = logging.getLogger("perpsim.venue")


class FollowerLink:
    """One follower process (see the module docstring).

    `durable()`: the venue's durable seq, told to the follower as soon as it starts;
    `on_reply(link, kind, seq, text)` and `on_exit(link, returncode)` are called on the link's
    thread (returncode None: it could not be started, or was closed before `start()`)."""

    def __init__(self, spec: FollowerSpec, durable: Callable[[], int],
                 on_reply: Callable[[FollowerLink, bytes, int, str], None],
                 on_exit: Callable[[FollowerLink, int | None], None]) -> None:
        self.spec, self.durable, self.on_reply, self.on_exit = spec, durable, on_reply, on_exit
        self.pid = 0
        self.proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._wfd: int | None = None  # the follower's stdin, non-blocking, once it runs
        self._outbox: list[bytes] = []
        self._closing = False
        self.thread = threading.Thread(target=self._run, name="perpsim-follower", daemon=True)

    def start(self) -> None:
        """Start the follower's thread, which starts the follower (messages sent before wait
        for it). Starting a thread waits for it to be scheduled: call this off the sequencer."""
        with self._lock:
            if not self._closing:
                self.thread.start()
                return
        self.on_exit(self, None)  # closed before it started

    # ------------------------------------------------------------------ the sequencer's side

    def send(self, kind: bytes, seq: int) -> None:
        """Queue one message (DURABLE or SNAPSHOT, snapshot_follower); never blocks."""
        msg = MESSAGE.pack(kind, seq)
        with self._lock:
            if self._wfd is None or self._outbox:
                self._keep(msg)
                self._flush()
                return
            try:
                os.write(self._wfd, msg)  # 9 bytes < PIPE_BUF: all or nothing
            except BlockingIOError:
                self._keep(msg)
            except OSError:  # the follower is gone: its thread reports the exit
                pass

    def _keep(self, msg: bytes) -> None:
        if msg[:1] == DURABLE and self._outbox and self._outbox[-1][:1] == DURABLE:
            self._outbox[-1] = msg  # only the latest durable seq matters
        else:
            self._outbox.append(msg)

    def _flush(self) -> None:
        """Send what waits, in order, as far as the pipe takes it (under the lock)."""
        while self._wfd is not None and self._outbox:
            try:
                os.write(self._wfd, self._outbox[0])
            except BlockingIOError:
                return
            except OSError:
                self._outbox.clear()
                return
            self._outbox.pop(0)

    # ------------------------------------------------------------------ the link's thread

    def _run(self) -> None:
        code: int | None = None
        rfd = wfd = -1
        try:
            rfd, wfd = os.pipe()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "perpsim.venue.snapshot_follower", str(os.getpid()), str(wfd)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(wfd,), close_fds=True,
                start_new_session=True)
            os.close(wfd)
            wfd = -1
            self.pid = self.proc.pid
            lower_priority(self.pid)  # from its start (imports, loading): it says so again itself
            with self._lock:
                if self._closing:  # closed while it was being started
                    self.proc.kill()
            stdin = self.proc.stdin
            assert stdin is not None  # asked for
            spec = pickle.dumps(self.spec, protocol=5)
            stdin.write(SPEC_LEN.pack(len(spec)) + spec)
            stdin.flush()
            fd = stdin.fileno()
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
            with self._lock:
                if self._closing:
                    self.proc.kill()
                else:
                    self._wfd = fd
                    self._keep(MESSAGE.pack(DURABLE, self.durable()))  # after what waits: never behind it
                    self._flush()
            self._read_replies(rfd)
            code = self.proc.wait()
        except Exception:
            if not self._closing:  # (closed meanwhile: its pipe broke, as it should)
                log.exception("snapshot follower: starting or reading it failed")
            if self.proc is not None:
                with contextlib.suppress(OSError):
                    self.proc.kill()
                code = self.proc.wait()
        finally:
            for fd in (rfd, wfd):
                if fd >= 0:
                    os.close(fd)
            self._close_input()
        self.on_exit(self, code)

    def _read_replies(self, rfd: int) -> None:
        buf = b""
        while True:
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                return
            buf += chunk
            while len(buf) >= REPLY.size:
                kind, seq, n = REPLY.unpack_from(buf)
                if len(buf) < REPLY.size + n:
                    break
                text = buf[REPLY.size:REPLY.size + n].decode(errors="replace")
                buf = buf[REPLY.size + n:]
                try:
                    self.on_reply(self, kind, seq, text)
                except Exception:  # the link must go on reading
                    log.exception("snapshot follower: handling its reply failed")

    def _close_input(self) -> None:
        with self._lock:
            self._closing = True
            self._wfd = None
            self._outbox.clear()
            if self.proc is not None and self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()

    # ------------------------------------------------------------------ ending it

    def close(self, timeout: float = 10.0) -> None:
        """End the follower: its input closed, it exits after what it is doing (killed after
        `timeout` s); returns once it is reaped."""
        self._close_input()
        if self.thread.ident is None:  # never started (and now never will be)
            return
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.kill()
            self.thread.join(5)

    def kill(self) -> None:
        """End the follower at once (SIGKILL); its thread reports the exit."""
        self._close_input()
        if self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.send_signal(signal.SIGKILL)  # (not once reaped: its pid may be another's)
