"""Typed errors of the perpsim client, one class per reject reason (asyncpg-style).

The venue answers a rejection with a rich gRPC status: `google.rpc.ErrorInfo` (reason = the
lower-case `RejectReason` name, domain "perpsim", metadata reason_code / binance_code / the
structured fields) and, for INVALID_ARGUMENT, `google.rpc.BadRequest` naming the field.
`from_rpc_error` turns such a `grpc.RpcError` into the matching exception:

    PerpsimError                      every error the client raises
      InvalidArgumentError            by gRPC status ...
        PriceOffTick, InvalidSide, …  ... one class per RejectReason (generated from REASONS)
      FailedPreconditionError
        MarginInsufficient, PostOnlyWouldTake, …
      NotFoundError, AlreadyExistsError, ResourceExhaustedError,
      UnauthenticatedError, PermissionDeniedError
      TransportError                  no rejection: the call itself failed
        Unavailable, DeadlineExceeded, Internal, Cancelled

A class per reason is named like the reason in CamelCase (MARGIN_INSUFFICIENT ->
`MarginInsufficient`) and sits under the class of its gRPC status, so `except NotFoundError`
catches `UnknownSymbol` and `UnknownOrder`. `ERRORS[reason]` is the class of a reason.
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from perpsim.model.reasons import REASONS, RejectReason

__all__ = [
    "ERRORS",
    "AlreadyExistsError",
    "Cancelled",
    "DeadlineExceeded",
    "FailedPreconditionError",
    "Internal",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "PerpsimError",
    "ResourceExhaustedError",
    "TransportError",
    "UnauthenticatedError",
    "Unavailable",
    "from_rpc_error",
]

DOMAIN = "perpsim"
_DETAILS_KEY = "grpc-status-details-bin"


class PerpsimError(Exception):
    """An error of a venue call.

    reason        the RejectReason, or None for transport errors and unstructured statuses
    status        the grpc.StatusCode of the call
    binance_code  the Binance USDⓈ-M error code of the reason (int), or None
    metadata      ErrorInfo metadata (str -> str): reason_code, binance_code and the
                  structured fields of the rejection (e.g. required / available margin)
    field         the offending request field (BadRequest), or None
    violations    every (field, description) of the BadRequest detail
    retry_after   seconds to wait before retrying (google.rpc.RetryInfo, e.g. rate limits), or None
    message       the status message
    """

    default_status: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    reason_enum: RejectReason | None = None

    def __init__(self, message: str = "", *, status: grpc.StatusCode | None = None,
                 reason: RejectReason | None = None, binance_code: int | None = None,
                 metadata: dict[str, str] | None = None, field: str | None = None,
                 violations: tuple[tuple[str, str], ...] = (), retry_after: float | None = None) -> None:
        self.reason = reason if reason is not None else self.reason_enum
        self.status = status if status is not None else self.default_status
        if binance_code is None and self.reason is not None:
            binance_code = REASONS[self.reason].binance_code
        self.binance_code = binance_code
        self.metadata = dict(metadata or {})
        self.field = field
        self.violations = tuple(violations)
        self.retry_after = retry_after
        if not message and self.reason is not None:
            message = REASONS[self.reason].message
        self.message = message
        super().__init__(message)

    @property
    def code(self) -> str:
        """A short snake_case name: the reason name, else the gRPC status name."""
        return self.reason.name.lower() if self.reason is not None else self.status.name.lower()

    def __str__(self) -> str:
        binance = f" ({self.binance_code})" if self.binance_code is not None else ""
        return f"{self.code}{binance}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status.name}, metadata={self.metadata!r})"


class InvalidArgumentError(PerpsimError):
    """gRPC INVALID_ARGUMENT: the request itself is wrong (PriceOffTick, QuantityOffStep, BadPrecision,
    MinNotional, InvalidSide, …); `field` names the offending request field when the venue gives one.
    Raised as this base class for an INVALID_ARGUMENT that names no perpsim reason."""

    default_status = grpc.StatusCode.INVALID_ARGUMENT


class FailedPreconditionError(PerpsimError):
    """gRPC FAILED_PRECONDITION: a valid request the account's or market's state refuses
    (MarginInsufficient, BalanceInsufficient, ReduceOnlyRejected, PostOnlyWouldTake, FokNotFillable,
    DailyLossLimit, UserInLiquidation, …)."""

    default_status = grpc.StatusCode.FAILED_PRECONDITION


class NotFoundError(PerpsimError):
    """gRPC NOT_FOUND: UnknownSymbol, UnknownOrder or UnknownAccount."""

    default_status = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(PerpsimError):
    """gRPC ALREADY_EXISTS: DuplicateOrderId (the order id is in use, or a client order id is reused
    for a different order) or ApiKeyInUse (a chosen API key asked for with another secret)."""

    default_status = grpc.StatusCode.ALREADY_EXISTS


class ResourceExhaustedError(PerpsimError):
    """gRPC RESOURCE_EXHAUSTED: MaxOpenOrders, MaxAlgoOrders (per account and market) or RateLimited
    (the key's rate limit, an overloaded venue, a stream that fell too far behind); a RateLimited
    carries `retry_after` in seconds."""

    default_status = grpc.StatusCode.RESOURCE_EXHAUSTED


class UnauthenticatedError(PerpsimError):
    """gRPC UNAUTHENTICATED (reason Unauthenticated, Binance -2015): the call carried no API key or one
    the venue does not know."""

    default_status = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(PerpsimError):
    """gRPC PERMISSION_DENIED (reason PermissionDenied): a sandbox call made with a key that is not the
    admin key."""

    default_status = grpc.StatusCode.PERMISSION_DENIED


class TransportError(PerpsimError):
    """The call failed without a rejection from the venue (network, deadline, server bug)."""


class Unavailable(TransportError):
    """The venue could not be reached (transient; safe calls were retried before this)."""

    default_status = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(TransportError):
    """No answer before the deadline; a write may or may not have happened."""

    default_status = grpc.StatusCode.DEADLINE_EXCEEDED


class Internal(TransportError):
    """The venue failed (a bug, logged by the server) or the client could not talk to it."""

    default_status = grpc.StatusCode.INTERNAL


class Cancelled(TransportError):
    """The call ended with gRPC CANCELLED. A stream ended by its own `cancel()` stops iterating instead
    of raising this."""

    default_status = grpc.StatusCode.CANCELLED


_BY_STATUS: dict[grpc.StatusCode, type[PerpsimError]] = {
    cls.default_status: cls
    for cls in (InvalidArgumentError, FailedPreconditionError, NotFoundError, AlreadyExistsError,
                ResourceExhaustedError, UnauthenticatedError, PermissionDeniedError, Unavailable,
                DeadlineExceeded, Internal, Cancelled)
}


def _class_name(reason: RejectReason) -> str:
    return "".join(part.capitalize() for part in reason.name.split("_"))


def _make_reason_classes() -> dict[RejectReason, type[PerpsimError]]:
    out: dict[RejectReason, type[PerpsimError]] = {}
    for reason in RejectReason:
        info = REASONS[reason]
        base = _BY_STATUS[getattr(grpc.StatusCode, info.status)]
        binance = f" Binance code {info.binance_code}." if info.binance_code is not None else ""
        cls = type(_class_name(reason), (base,), {
            "__doc__": f"{reason.name} ({int(reason)}, gRPC {info.status}): {info.message}{binance}",
            "__module__": __name__,
            "reason_enum": reason,
        })
        out[reason] = cls
    return out


#: The exception class of each RejectReason.
ERRORS: dict[RejectReason, type[PerpsimError]] = _make_reason_classes()
globals().update({cls.__name__: cls for cls in ERRORS.values()})
__all__ += [cls.__name__ for cls in ERRORS.values()]


def _details(error: grpc.RpcError):
    """The google.rpc.Status of a failed call, or None (tolerates a mismatching status)."""
    try:
        return rpc_status.from_call(error)
    except ValueError:  # code/message of the proto and the call differ: still use the details
        from google.rpc import status_pb2

        for key, value in error.trailing_metadata() or ():
            if key == _DETAILS_KEY:
                return status_pb2.Status.FromString(value)
    return None


def from_rpc_error(error: grpc.RpcError) -> PerpsimError:
    """The typed exception for a failed call (sync `grpc.RpcError` or `grpc.aio.AioRpcError`)."""
    code = error.code() if hasattr(error, "code") else None
    status = code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
    message = (error.details() if hasattr(error, "details") else None) or str(error)
    rich = _details(error) if hasattr(error, "trailing_metadata") else None
    return from_status(status, message, rich)


_CODES = {sc.value[0]: sc for sc in grpc.StatusCode}


def from_status_pb(rich) -> PerpsimError:
    """The typed exception for a google.rpc.Status message (e.g. one result of PlaceOrders)."""
    return from_status(_CODES.get(rich.code, grpc.StatusCode.UNKNOWN), rich.message, rich)


def from_status(status: grpc.StatusCode, message: str, rich) -> PerpsimError:
    """The typed exception for a status code, message and optional google.rpc.Status details."""
    reason = None
    binance_code = None
    metadata: dict[str, str] = {}
    violations: list[tuple[str, str]] = []
    retry_after = None
    if rich is not None:
        message = rich.message or message
        for detail in rich.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                if info.domain != DOMAIN:
                    continue
                metadata = dict(info.metadata)
                reason = _reason_of(info.reason, metadata)
                if "binance_code" in metadata:
                    try:
                        binance_code = int(metadata["binance_code"])
                    except ValueError:
                        binance_code = None
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [(v.field, v.description) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                retry_after = info.retry_delay.ToNanoseconds() / 1e9
    cls = ERRORS[reason] if reason is not None else _BY_STATUS.get(status, PerpsimError)
    field = next((f for f, _ in violations if f), None)
    return cls(message, status=status, reason=reason, binance_code=binance_code, metadata=metadata,
               field=field, violations=tuple(violations), retry_after=retry_after)


def _reason_of(name: str, metadata: dict[str, str]) -> RejectReason | None:
    try:
        return RejectReason[name.upper()]
    except KeyError:
        pass
    try:
        return RejectReason(int(metadata.get("reason_code", "")))
    except ValueError:
        return None
