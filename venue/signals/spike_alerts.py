"""An account's own leverage-spike flags on its account stream (`StreamAccount`'s
`leverage_spike` updates).

The flags are raised only when the signals close a step of venue time (venue.signals.hub), so
they are looked at once per closed step, and only for the accounts whose stream someone
follows: RAISED when a market's flag of the account appears (or is raised again, at a later
step), CLEARED when it is gone (its hold of `spike_hold_s` of venue time has passed).
"""

from __future__ import annotations

from perpsim.v1 import account_pb2

RAISED, CLEARED = "RAISED", "CLEARED"


class SpikeAlerts:
    """Sends RAISED and CLEARED `leverage_spike` updates to the followed accounts' streams,
    looked at once per step of venue time the signals close."""

    def __init__(self, signals, streams) -> None:
        self.signals, self.streams = signals, streams
        self._seen = -1  # the signals' steps_closed when last looked at
        self._sent: dict[int, dict[str, int]] = {}  # account -> symbol -> the flag's ts last sent RAISED

    def check(self, ts: int) -> None:
        """After each durable command (a Streams hook): the followed accounts' flag changes."""
        closed = self.signals.steps_closed
        if closed == self._seen:
            return
        self._seen = closed
        followed = self.streams.followed_accounts()
        for account in [a for a in self._sent if a not in followed]:
            del self._sent[account]
        for account in sorted(followed):
            before = self._sent.get(account, {})
            flags = dict(self.signals.account_flags(account))
            for symbol in sorted(flags):
                f = flags[symbol]
                if before.get(symbol) != f.ts:
                    self._send(account, ts, symbol, RAISED, f)
            for symbol in sorted(set(before) - set(flags)):
                self._send(account, ts, symbol, CLEARED, None)
            if flags:
                self._sent[account] = {s: f.ts for s, f in flags.items()}
            else:
                self._sent.pop(account, None)

    def _send(self, account: int, ts: int, symbol: str, state: str, f) -> None:
        spike = account_pb2.LeverageSpike(symbol=symbol, state=state)
        if f is not None:
            spike.leverage_before, spike.leverage_after = f"{f.before:.4f}", f"{f.after:.4f}"
            spike.z, spike.changed_at_ns = f"{f.z:.4f}", f.ts
        self.streams.send_account(account, ts, leverage_spike=spike)
