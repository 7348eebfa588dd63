"""The venue's refusals in the engine's terms, for GrpcVenue: a typed client error as the
`CommandRejected` event of the refused command."""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected


def rejected(cmd: C.Command, error) -> CommandRejected:
    """The CommandRejected event of a command the venue refused with a typed client error."""
    return CommandRejected(type(cmd).__name__, getattr(cmd, "account", 0), reason(error), (("message", str(error)),))


def reason(error) -> int:
    """The RejectReason number of a typed client error (0 for transport errors)."""
    return int(error.reason) if error.reason is not None else 0

