"""Studio's API errors: ``{"error": {"message", "type"}}`` with an HTTP status (the gateway's
envelope), a message that says what failed and what to do."""

from __future__ import annotations

import orjson


class StudioError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind

    def body(self) -> bytes:
        return orjson.dumps({"error": {"message": self.message, "type": self.kind}})


def require_admin(admin: bool, what: str) -> None:
    if not admin:
        raise StudioError(
            403,
            f"{what} needs an admin key or a token with the `admin` scope "
            "(`sage keys create --user NAME --admin`)",
            "permission_error",
        )
