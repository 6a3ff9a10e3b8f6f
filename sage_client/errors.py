"""Typed errors raised by the SDK's clients, decoded from gRPC statuses.

Every error keeps the status code, the server's message, and the details the
server attached: the machine-readable ``reason`` (ErrorInfo), its ``metadata``
(e.g. ``current_version`` of a failed compare-and-set) and the ``field`` a
BadRequest names.
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

_DETAILS_KEY = "grpc-status-details-bin"


class SageError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        reason: str = "",
        metadata: dict[str, str] | None = None,
        field: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.reason = reason
        self.metadata = metadata or {}
        self.field = field

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


class InvalidArgument(SageError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(SageError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(SageError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(SageError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(SageError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(SageError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(SageError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unauthenticated(SageError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(SageError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Cancelled(SageError):
    code = grpc.StatusCode.CANCELLED


_BY_CODE: dict[grpc.StatusCode, type[SageError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
        Unauthenticated,
        PermissionDenied,
        Cancelled,
    )
}


def from_rpc_error(
    exc: grpc.RpcError, *, service: str = "", method: str = "", timeout: float | None = None
) -> SageError:
    """Decode a grpc.RpcError (sync or aio) into the matching SageError. ``service``, ``method``
    and ``timeout`` (the call's) turn gRPC's bare "Deadline Exceeded" into a message that says
    which call ran out of time and what to change."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    message = exc.details() if hasattr(exc, "details") else str(exc)
    if (
        code == grpc.StatusCode.DEADLINE_EXCEEDED and "Deadline Exceeded" in message
    ):  # gRPC's own words
        message = _deadline_message(service, method, timeout, message)
    reason, metadata, field = "", {}, ""
    trailers = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    for key, value in trailers or ():
        if key != _DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                if bad.field_violations:
                    field = bad.field_violations[0].field
    cls = _BY_CODE.get(code, SageError)
    return cls(message or code.name, code=code, reason=reason, metadata=metadata, field=field)


def _deadline_message(service: str, method: str, timeout: float | None, grpc_words: str) -> str:
    what = f"the {service} service's {method or 'call'}" if service else (method or "the call")
    within = f" within its deadline of {timeout:g} s" if timeout else " within its deadline"
    return f"{what} did not answer{within} (gRPC: {grpc_words}); pass a longer timeout= or send less work per call"
