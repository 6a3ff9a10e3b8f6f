"""Errors as gRPC statuses with google.rpc details (ErrorInfo + BadRequest).

Servicers raise ``ServiceError`` (usually through the helpers below); the
interceptor turns it into a status whose ErrorInfo carries a machine-readable
reason (``sage.common.v1.ErrorReason``) and whose BadRequest names the field.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from sage_proto.common.v1 import common_pb2

ERROR_DOMAIN = "sage.mesh"


class ServiceError(Exception):
    """A failure that maps to one gRPC status code and an actionable message."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: int,
        *,
        field: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.field = field
        self.metadata = dict(metadata or {})

    def to_status(self) -> grpc.Status:
        info = error_details_pb2.ErrorInfo(
            reason=common_pb2.ErrorReason.Name(self.reason),
            domain=ERROR_DOMAIN,
            metadata=self.metadata,
        )
        details = [_pack(info)]
        if self.field:
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=self.field, description=self.message
                    )
                ]
            )
            details.append(_pack(bad))
        status = status_pb2.Status(
            code=getattr(code_pb2, self.code.name), message=self.message, details=details
        )
        return rpc_status.to_status(status)


def _pack(msg: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(msg)
    return packed


def invalid_argument(field: str, message: str, **metadata: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.INVALID_ARGUMENT,
        message,
        common_pb2.ERROR_REASON_INVALID_FIELD,
        field=field,
        metadata=metadata,
    )


def limit_exceeded(field: str, message: str, limit: int) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.INVALID_ARGUMENT,
        message,
        common_pb2.ERROR_REASON_LIMIT_EXCEEDED,
        field=field,
        metadata={"limit": str(limit)},
    )


def not_found(message: str, **metadata: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.NOT_FOUND, message, common_pb2.ERROR_REASON_NOT_FOUND, metadata=metadata
    )


def already_exists(message: str, **metadata: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.ALREADY_EXISTS,
        message,
        common_pb2.ERROR_REASON_ALREADY_EXISTS,
        metadata=metadata,
    )


def version_mismatch(message: str, current_version: int) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.FAILED_PRECONDITION,
        message,
        common_pb2.ERROR_REASON_VERSION_MISMATCH,
        metadata={"current_version": str(current_version)},
    )


def overloaded(message: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.RESOURCE_EXHAUSTED, message, common_pb2.ERROR_REASON_OVERLOADED
    )


def backend_unavailable(backend: str, message: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.UNAVAILABLE,
        message,
        common_pb2.ERROR_REASON_BACKEND_UNAVAILABLE,
        metadata={"backend": backend},
    )


def unauthenticated(message: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.UNAUTHENTICATED, message, common_pb2.ERROR_REASON_UNAUTHENTICATED
    )
