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


def _session_paths(
    prefix: str, detail: dict[str, Any], any_object: dict[str, Any], session_param: list[dict]
) -> dict[str, Any]:
    # SAGE's cleanup takes ?max_age_minutes (default: session_ttl_s); documented on its route
    max_age = [
        {
            "name": "max_age_minutes",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0},
        }
    ]
    return {
        prefix: {
            "get": _op("sessions of the caller (all, for admins)", None, any_object),
            "post": _op(
                "create an empty session (optional title)",
                protocol.SessionCreateRequest,
                any_object,
            ),
        },
        f"{prefix}/{{session_id}}": {
            "get": _op("one session with its history", None, detail, session_param),
            "delete": _op("delete a session", None, any_object, session_param),
        },
        f"{prefix}/{{session_id}}/clear": {
            "post": _op("empty a session's history", None, any_object, session_param)
        },
        f"{prefix}/{{session_id}}/title": {
            "patch": _op(
                "set a session's title", protocol.SessionTitleRequest, any_object, session_param
            )
        },
        f"{prefix}/cleanup": {
            "post": _op(
                "delete sessions idle longer than session_ttl_s or ?max_age_minutes (admin)",
                None,
                any_object,
                max_age if prefix == "/sessions" else None,
            )
        },
    }


def openapi_document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        protocol.ChatCompletionRequest,
        protocol.CompletionRequest,
        protocol.EmbeddingRequest,
        protocol.ErrorResponse,
        protocol.SessionSummary,
        protocol.SessionDetail,
        protocol.SessionCreateRequest,
        protocol.SessionTitleRequest,
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
    open_ok = {"description": "success", "content": {"application/json": any_object}}
    detail = {"schema": {"$ref": "#/components/schemas/SessionDetail"}}
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
            "/v1/me": {"get": _op("the caller's principal: user and admin", None, any_object)},
            **_session_paths("/v1/sessions", detail, any_object, session_param),
            # SAGE's gateway routes (seed 004): the same operations in SAGE's response shapes
            **_session_paths("/sessions", any_object, any_object, session_param),
            "/health": {
                "get": {
                    "summary": "liveness, open without a credential (no data)",
                    "responses": {"200": open_ok, "503": {"description": "starting or draining"}},
                }
            },
            "/": {
                "get": {
                    "summary": "what this server is: name, version, endpoints",
                    "responses": {"200": open_ok},
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
