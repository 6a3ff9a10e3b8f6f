"""Errors in OpenAI's envelope: ``{"error": {"message", "type", "param", "code"}}``.

Every failure the gateway reports is a ``GatewayError``; mesh errors (``SageError`` from the
SDK) and validation errors are translated here, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc
import orjson
from pydantic import ValidationError

from sage_client.errors import SageError


class GatewayError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        return orjson.dumps(
            {
                "error": {
                    "message": self.message,
                    "type": self.type,
                    "param": self.param,
                    "code": self.code,
                }
            }
        )


def unauthenticated(message: str) -> GatewayError:
    return GatewayError(401, message, "authentication_error", code="invalid_api_key")


def forbidden(message: str) -> GatewayError:
    return GatewayError(403, message, "permission_error", code="insufficient_scope")


def not_found(message: str, param: str | None = None) -> GatewayError:
    return GatewayError(404, message, "invalid_request_error", param=param, code="not_found")


_FROM_STATUS: dict[grpc.StatusCode, tuple[int, str, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid_request_error", "invalid_value"),
    grpc.StatusCode.NOT_FOUND: (404, "invalid_request_error", "model_not_found"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (503, "server_error", "server_overloaded"),
    grpc.StatusCode.UNAVAILABLE: (503, "server_error", "upstream_unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "server_error", "upstream_timeout"),
    grpc.StatusCode.UNAUTHENTICATED: (502, "server_error", "upstream_auth"),
    grpc.StatusCode.PERMISSION_DENIED: (502, "server_error", "upstream_auth"),
    grpc.StatusCode.CANCELLED: (499, "server_error", "cancelled"),
}


def from_sage_error(exc: SageError) -> GatewayError:
    status, kind, code = _FROM_STATUS.get(exc.code, (500, "server_error", "upstream_error"))
    param = exc.field.removeprefix("sampling.") if exc.field else None
    return GatewayError(status, exc.message, kind, param=param, code=code)


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "none", "list", "dict"})


def public_param(loc: tuple[int | str, ...]) -> str | None:
    """A pydantic error location as the request's field path (``messages[0].content``), without
    the union-member tags pydantic adds (``str``, ``list[ContentPart]``, ``function-after[...]``)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _TYPE_TAGS or not part.isidentifier() or part[:1].isupper():
            continue
        else:
            out += f".{part}" if out else part
    return out or None


def from_validation_error(exc: ValidationError) -> GatewayError:
    first = exc.errors()[0]
    param = public_param(tuple(first["loc"]))
    extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return GatewayError(400, f"{param}: {first['msg']}{extra}", param=param, code="invalid_value")
