"""The wire's edge, for every service of the server: requests that cannot be what they claim.

* Bytes that do not decode as the method's request message: INVALID_ARGUMENT and one warning
  line (grpcio's default answers UNKNOWN and logs a traceback for every such request).
* A uint64 field above 2**63 - 1 (ids, account ids): the engine and the journal hold int64, so
  such a value can name nothing; INVALID_ARGUMENT naming the field (e.g. `conditional_id`,
  `orders[3].order_id`) before any servicer sees it. The message is walked field by field only
  when its bytes could hold such a value (`may_exceed_int64`): most requests cost one pass over
  their bytes, not a walk of every command of a batch.

On a request stream an undecodable message ends the requests as the client closing them would:
what came before is answered, then the call ends INVALID_ARGUMENT.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from perpsim.model.reasons import RejectReason as R
from perpsim.venue.errors import VenueError, cut, to_status

log = logging.getLogger("perpsim.venue")

INT64_MAX = (1 << 63) - 1
_UNSIGNED = (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64)


class Undecodable:
    """What the tolerant deserializer returns for bytes that are not the request message."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class OutOfRange:
    """What the tolerant deserializer returns for a request with a uint64 field above INT64_MAX:
    the field's path and its value."""

    def __init__(self, path: str, value: int) -> None:
        self.path, self.value = path, value


#: each byte -> 1 when its high (continuation) bit is set, else 0
_HIGH_BIT = bytes(b >> 7 for b in range(256))
_NINE_HIGH = b"\x01" * 9


def may_exceed_int64(data: bytes) -> bool:
    """Whether encoded protobuf bytes could hold a varint above INT64_MAX. Such a value has 64
    significant bits, so its varint takes ten bytes (7 bits each), the first nine with the
    continuation bit set; bytes with no run of nine such bytes hold none. (A run elsewhere, in a
    string or a negative int64, only means the message is walked.) Says nothing of fixed64
    fields: `_has_fixed64` covers the types that have them."""
    return data.translate(_HIGH_BIT).find(_NINE_HIGH) >= 0


def _tolerant(deserialize):
    def run(data: bytes):
        try:
            msg = deserialize(data)
        except Exception as e:  # DecodeError and whatever a broken message raises
            return Undecodable(e)
        descriptor = msg.DESCRIPTOR
        # a type with no 64-bit unsigned field (PlaceOrders) has nothing to look for
        if _unsigned_plan(descriptor) and (may_exceed_int64(data) or _has_fixed64(descriptor)):
            found = out_of_range(msg)
            if found:
                return OutOfRange(*found)
        return msg

    return run


@functools.cache
def _has_fixed64(descriptor: Descriptor, seen: frozenset = frozenset()) -> bool:
    """Whether a message type holds fixed64 fields (their bytes are not varints, so
    `may_exceed_int64` cannot rule them out)."""
    if descriptor in seen:
        return False
    return any(f.type == FieldDescriptor.TYPE_FIXED64 or (f.message_type is not None and _has_fixed64(
        f.message_type, seen | {descriptor})) for f in descriptor.fields)


@functools.cache
def _unsigned_plan(descriptor: Descriptor) -> tuple[FieldDescriptor, ...]:
    """The fields of a message type that are, or hold messages with, 64-bit unsigned fields."""
    return tuple(f for f in descriptor.fields
                 if f.type in _UNSIGNED or (f.message_type is not None and _holds_unsigned(f.message_type)))


def _holds_unsigned(descriptor: Descriptor, seen: frozenset = frozenset()) -> bool:
    if descriptor in seen:  # a recursive type holds what its other fields hold
        return False
    return any(f.type in _UNSIGNED or (f.message_type is not None and _holds_unsigned(f.message_type,
                                                                                      seen | {descriptor}))
               for f in descriptor.fields)


def out_of_range(msg, prefix: str = "") -> tuple[str, int] | None:
    """The first uint64 field (its path) holding more than INT64_MAX, with its value."""
    for f in _unsigned_plan(msg.DESCRIPTOR):
        value = getattr(msg, f.name)
        items = enumerate(value) if f.is_repeated else ((None, value),)
        for i, v in items:
            path = f"{prefix}{f.name}" + ("" if i is None else f"[{i}]")
            if f.message_type is None:
                if v > INT64_MAX:
                    return path, v
            elif i is not None or msg.HasField(f.name):
                found = out_of_range(v, path + ".")
                if found:
                    return found
    return None


def _refusal(method: str, request, context) -> VenueError | None:
    if isinstance(request, Undecodable):
        log.warning("%s from %s: undecodable request refused (%s)", method, context.peer(),
                    cut(request.error, 200))
        return VenueError(R.INVALID_VALUE, field="request", problem="the bytes are not this method's request message")
    if isinstance(request, OutOfRange):  # found by the deserializer
        return VenueError(R.INVALID_VALUE, field=request.path, value=request.value, max_value=INT64_MAX,
                          problem="out of range")
    return None


def _guard(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """The handler with a tolerant deserializer and the checks above in front of its behavior
    (asyncio behaviors only: a synchronous one is left as it is)."""
    behavior = handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    if not (inspect.iscoroutinefunction(behavior) or inspect.isasyncgenfunction(behavior)):
        return handler
    deserializer = _tolerant(handler.request_deserializer)
    if not handler.request_streaming:
        kind = "unary_stream" if handler.response_streaming else "unary_unary"
        behavior = getattr(handler, kind)
        if inspect.isasyncgenfunction(behavior):
            async def streamed(request, context):
                if (refused := _refusal(method, request, context)) is not None:
                    await context.abort_with_status(to_status(refused))
                async for response in behavior(request, context):
                    yield response
            run: Callable[..., Any] = streamed
        else:
            async def unary(request, context):
                if (refused := _refusal(method, request, context)) is not None:
                    await context.abort_with_status(to_status(refused))
                return await behavior(request, context)
            run = unary
        return handler._replace(request_deserializer=deserializer, **{kind: run})

    kind = "stream_stream" if handler.response_streaming else "stream_unary"
    behavior = getattr(handler, kind)

    def checked(requests, context, refused: list):
        async def gen():
            async for request in requests:
                if (refusal := _refusal(method, request, context)) is not None:
                    refused.append(refusal)
                    return  # as if the client had closed its side
                yield request
        return gen()

    if inspect.isasyncgenfunction(behavior):
        async def streams(requests, context):
            refused: list = []
            async for response in behavior(checked(requests, context, refused), context):
                yield response
            if refused:
                await context.abort_with_status(to_status(refused[0]))
        run_stream: Callable[..., Any] = streams
    else:
        async def answers(requests, context):
            refused: list = []
            response = await behavior(checked(requests, context, refused), context)
            if refused:
                await context.abort_with_status(to_status(refused[0]))
            return response
        run_stream = answers
    return handler._replace(request_deserializer=deserializer, **{kind: run_stream})


class RequestGuard(grpc.aio.ServerInterceptor):
    """Puts `_guard` in front of every method handler of the server (built once per method)."""

    def __init__(self) -> None:
        self._guarded: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(self, continuation, handler_call_details):
        """The method's handler with `_guard` in front (built once per method and handler); a method without a handler
        or a request deserializer passes unguarded."""
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        method = handler_call_details.method
        cached = self._guarded.get(method)
        if cached is None or cached[0] is not handler:
            cached = self._guarded[method] = (handler, _guard(method, handler))
        return cached[1]
