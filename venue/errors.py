"""Rejections on the wire: one mapping from RejectReason to gRPC status + google.rpc details.

Every rejection carries `google.rpc.ErrorInfo` (reason: the snake_case reason name, domain
"perpsim", metadata: the reason number, the Binance code where one exists and the structured
fields). INVALID_ARGUMENT rejections also carry `google.rpc.BadRequest` with the offending field.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from perpsim.model.reasons import REASONS, RejectReason

DOMAIN = "perpsim"
#: The RetryInfo delay of a RATE_LIMITED that names none (ms).
DEFAULT_RETRY_MS = 100

_CODES = {
    "INVALID_ARGUMENT": (grpc.StatusCode.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT),
    "FAILED_PRECONDITION": (grpc.StatusCode.FAILED_PRECONDITION, code_pb2.FAILED_PRECONDITION),
    "NOT_FOUND": (grpc.StatusCode.NOT_FOUND, code_pb2.NOT_FOUND),
    "ALREADY_EXISTS": (grpc.StatusCode.ALREADY_EXISTS, code_pb2.ALREADY_EXISTS),
    "RESOURCE_EXHAUSTED": (grpc.StatusCode.RESOURCE_EXHAUSTED, code_pb2.RESOURCE_EXHAUSTED),
    "UNAUTHENTICATED": (grpc.StatusCode.UNAUTHENTICATED, code_pb2.UNAUTHENTICATED),
    "PERMISSION_DENIED": (grpc.StatusCode.PERMISSION_DENIED, code_pb2.PERMISSION_DENIED),
}


class VenueError(Exception):
    """A rejection raised inside a servicer; turned into a gRPC status by `to_status`."""

    #: True when the exchange refused the command (its events carry the rejection and the
    #: metrics count it there); False when the venue refused before the engine
    engine: bool = False

    def __init__(self, reason: RejectReason, field: str = "", **fields: object) -> None:
        self.reason = RejectReason(reason)
        self.field = field
        self.fields = fields
        self.display: dict[str, object] | None = None  # the fields as the message shows them
        super().__init__(f"{self.reason.name}: {REASONS[self.reason].message}")

    def shown_as(self, display: dict[str, object]) -> VenueError:
        """Show `display` in the message instead of the fields (e.g. money in the asset's units
        where the fields, kept for the metadata, hold integers); returns this error."""
        self.display = display
        return self

    def by_engine(self) -> VenueError:
        """Mark this as the exchange's own rejection; returns it."""
        self.engine = True
        return self


def status_code(reason: RejectReason) -> grpc.StatusCode:
    """The gRPC status code a rejection reason is answered with (from the reason table)."""
    return _CODES[REASONS[reason].status][0]


def to_status(err: VenueError) -> grpc.Status:
    """The rich status of a rejection, ready for `context.abort_with_status`."""
    return rpc_status.to_status(to_rpc_status(err))


def internal_rpc_status() -> status_pb2.Status:
    """INTERNAL as a google.rpc.Status: a fault inside the venue (logged), not the caller's."""
    return status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message="internal error (logged)")


def _shown(fields: dict) -> dict[str, str]:
    """The fields of a rejection as text, each cut to a bound: an echoed value at ECHO_LIMIT, the
    venue's own explanation (`problem`) at PROSE_LIMIT."""
    return {cut(k): cut(v, PROSE_LIMIT if k == "problem" else ECHO_LIMIT) for k, v in fields.items()}


def to_rpc_status(err: VenueError) -> status_pb2.Status:
    """The rejection as a google.rpc.Status message (code, message, ErrorInfo, BadRequest…)."""
    info = REASONS[err.reason]
    _, code = _CODES[info.status]
    metadata = {"reason_code": str(int(err.reason))}
    if err.field:
        metadata["field"] = cut(err.field)
    if info.binance_code is not None:
        metadata["binance_code"] = str(info.binance_code)
    metadata.update(_shown(err.fields))
    shown = _shown(err.fields if err.display is None else err.display)
    details = [error_details_pb2.ErrorInfo(reason=err.reason.name.lower(), domain=DOMAIN, metadata=metadata)]
    if "retry_after_ms" in err.fields or err.reason == RejectReason.RATE_LIMITED:
        # every RATE_LIMITED (rate limit, overload, a dropped slow stream) says when to retry
        delay = duration_pb2.Duration()
        retry_ms = err.fields.get("retry_after_ms")
        delay.FromMilliseconds(retry_ms if isinstance(retry_ms, int) else DEFAULT_RETRY_MS)
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    if info.status == "INVALID_ARGUMENT":
        violation = error_details_pb2.BadRequest.FieldViolation(field=cut(err.field), description=info.message)
        details.append(error_details_pb2.BadRequest(field_violations=[violation]))
    packed = []
    for d in details:
        a = any_pb2.Any()
        a.Pack(d)
        packed.append(a)
    named = {"field": cut(err.field)} if err.field and "field" not in shown else {}  # which value is meant
    message = info.message + ("" if not (shown or named) else
                              " " + ", ".join(f"{k}={v}" for k, v in {**named, **shown}.items()))
    return status_pb2.Status(code=code, message=message, details=packed)


#: Longest echo of a caller's value in a message (longer ones are cut and end with "…").
ECHO_LIMIT = 64
#: Longest explanation (`problem`) of the venue's own in a message.
PROSE_LIMIT = 400


def cut(value: object, limit: int = ECHO_LIMIT) -> str:
    """`value` as text, cut to `limit` characters plus "…": a caller's value echoed into a
    message or metadata never makes the status larger than a bound."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"
