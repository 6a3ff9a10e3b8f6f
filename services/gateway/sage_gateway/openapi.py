"""The gateway's OpenAPI 3.1 document, built from the pydantic schemas in ``protocol.py``
(served at ``/openapi.json``; Schemathesis tests the gateway against it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sage_gateway import protocol

_ERRORS = {
    str(code): {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for code, text in (
        (400, "invalid request"),
        (401, "missing or invalid credentials"),
        (403, "not allowed for these credentials"),
        (404, "not found"),
        (429, "rate limited"),
        (503, "upstream unavailable"),
    )
}


def _op(
    summary: str,
    request: type[BaseModel] | None,
    ok: dict[str, Any],
    params: list[dict] | None = None,
    streams: bool = False,
) -> dict:
    content = {"application/json": ok}
    if streams:  # `stream: true` answers with server-sent events
        content["text/event-stream"] = {"schema": {"type": "string"}}
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "responses": {"200": {"description": "success", "content": content}, **_ERRORS},
    }
    if request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{request.__name__}"}}
            },
        }
    if params:
        op["parameters"] = params
    return op


def openapi_document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        protocol.ChatCompletionRequest,
        protocol.CompletionRequest,
        protocol.EmbeddingRequest,
        protocol.ErrorResponse,
        protocol.SessionSummary,
        protocol.SessionDetail,
    ]
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    any_object = {"schema": {"type": "object"}}
    session_param = [
        {
            "name": "session_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
        }
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SAGE Mesh gateway",
            "version": "0.1.0",
            "description": "OpenAI-compatible API of SAGE Mesh, with conversation sessions",
        },
        "paths": {
            "/v1/chat/completions": {
                "post": _op(
                    "chat completion (stream=true: server-sent events)",
                    protocol.ChatCompletionRequest,
                    any_object,
                    streams=True,
                )
            },
            "/v1/completions": {
                "post": _op("text completion", protocol.CompletionRequest, any_object, streams=True)
            },
            "/v1/embeddings": {"post": _op("embeddings", protocol.EmbeddingRequest, any_object)},
            "/v1/models": {"get": _op("models served by the mesh", None, any_object)},
            "/v1/sessions": {
                "get": _op("sessions of the caller (all, for admins)", None, any_object)
            },
            "/v1/sessions/{session_id}": {
                "get": _op(
                    "one session with its history",
                    None,
                    {"schema": {"$ref": "#/components/schemas/SessionDetail"}},
                    session_param,
                ),
                "delete": _op("delete a session", None, any_object, session_param),
            },
            "/v1/sessions/cleanup": {
                "post": _op("delete expired sessions (admin)", None, any_object)
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
