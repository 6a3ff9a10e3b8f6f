"""What the session routes answer, in two shapes over the one ``SessionIndex``:

- ``/v1/sessions...``: this gateway's own (``object`` fields, times as Unix seconds);
- ``/sessions...``: SAGE's gateway as seed 004 and ``sage.gateway.server`` shape them
  (``{"sessions": [...], "stats": {...}}``, ``{"status": "cleared", "session_id": ...}``,
  times in ISO 8601), so Studio-style clients written for SAGE work unchanged.

A view only formats; the routes in ``app.py`` do the work once for both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sage_gateway.sessions import DEFAULT_TITLE, Session


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp).isoformat()


def stats(sessions: list[Session]) -> dict[str, int]:
    return {
        "total_sessions": len(sessions),
        "total_messages": sum(len(s.history) for s in sessions),
    }


class SessionView(Protocol):
    def listing(self, sessions: list[Session]) -> dict[str, Any]: ...
    def detail(self, session: Session) -> dict[str, Any]: ...
    def created(self, session: Session) -> dict[str, Any]: ...
    def cleared(self, session: Session) -> dict[str, Any]: ...
    def titled(self, session: Session) -> dict[str, Any]: ...
    def deleted(self, session: Session) -> dict[str, Any]: ...
    def cleaned(self, removed: int) -> dict[str, Any]: ...


class MeshView:
    def listing(self, sessions: list[Session]) -> dict[str, Any]:
        return {"object": "list", "data": [s.summary() for s in sessions]}

    def detail(self, session: Session) -> dict[str, Any]:
        return {**session.summary(), "history": session.history}

    def created(self, session: Session) -> dict[str, Any]:
        return {**session.summary(), "object": "session"}

    def cleared(self, session: Session) -> dict[str, Any]:
        return {**session.summary(), "object": "session", "cleared": True}

    def titled(self, session: Session) -> dict[str, Any]:
        return {**session.summary(), "object": "session"}

    def deleted(self, session: Session) -> dict[str, Any]:
        return {"id": session.id, "object": "session", "deleted": True}

    def cleaned(self, removed: int) -> dict[str, Any]:
        return {"deleted": removed}


class SageView:
    @staticmethod
    def _summary(session: Session) -> dict[str, Any]:
        return {
            "id": session.id,
            "title": session.title or DEFAULT_TITLE,
            "created_at": _iso(session.created_at),
            "last_active": _iso(session.updated_at),
            "message_count": len(session.history),
        }

    def listing(self, sessions: list[Session]) -> dict[str, Any]:
        return {"sessions": [self._summary(s) for s in sessions], "stats": stats(sessions)}

    def detail(self, session: Session) -> dict[str, Any]:
        return {
            "id": session.id,
            "messages": [
                {"role": m["role"], "content": m["content"], "metadata": {}}
                for m in session.history
            ],
            "created_at": _iso(session.created_at),
            "last_active": _iso(session.updated_at),
            "metadata": {"title": session.title or DEFAULT_TITLE},
        }

    def created(self, session: Session) -> dict[str, Any]:
        return self.detail(session)

    def cleared(self, session: Session) -> dict[str, Any]:
        return {"status": "cleared", "session_id": session.id}

    def titled(self, session: Session) -> dict[str, Any]:
        return {
            "status": "updated",
            "session_id": session.id,
            "title": session.title or DEFAULT_TITLE,
        }

    def deleted(self, session: Session) -> dict[str, Any]:
        return {"status": "deleted", "session_id": session.id}

    def cleaned(self, removed: int) -> dict[str, Any]:
        return {"status": "cleaned", "removed_sessions": removed}


MESH_VIEW = MeshView()
SAGE_VIEW = SageView()
