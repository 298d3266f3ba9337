"""Render routes: submit, list, follow, download, cancel, delete; templates and usage."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, JSONResponse

from saas_app.api.deps import Context, CurrentPrincipal, DbSession
from saas_app.services.usage import quotas
from saas_app.services.renders import submission as renders
from saas_app.services.renders.files import get_kept_file_or_raise
from saas_app.services.renders.media.images import TEMPLATES
from saas_app.services.renders.media.speech import VOICES
from saas_app.services.renders.steps.video import THUMBNAIL, VIDEO
from saas_app.services.renders.input import RenderInput
from saas_app.services.renders.views import describe_render, summarize_render

router = APIRouter(tags=["renders"])


def _submit(body: RenderInput, principal: CurrentPrincipal, session: DbSession, ctx: Context) -> JSONResponse:
    render = renders.create_render(session=session, principal=principal, request=body, ctx=ctx)
    return JSONResponse({"id": render.id, "status": render.status, "estimate": json.loads(render.estimate_json)},
                        status_code=202)


router.add_api_route("/api/renders", _submit, methods=["POST"], status_code=202, summary="Submit a render")
router.add_api_route("/render", _submit, methods=["POST"], status_code=202,
                     summary="Submit a render (integration guide path)")


@router.get("/api/renders")
def list_renders(
    principal: CurrentPrincipal, session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    """This tenant's renders, newest first."""
    rows, total = renders.list_renders(session=session, tenant_id=principal.tenant_id, limit=limit, offset=offset)
    return {"items": [summarize_render(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/api/renders/{render_id}")
def get_render(render_id: str, principal: CurrentPrincipal, session: DbSession) -> dict:
    """One render with per-step progress, usage charged and any error."""
    render = renders.get_render_or_raise(session=session, tenant_id=principal.tenant_id, render_id=render_id)
    return describe_render(session=session, render=render)


def _file(render_id: str, principal: CurrentPrincipal, session: DbSession, key: str) -> FileResponse:
    render = renders.get_render_or_raise(session=session, tenant_id=principal.tenant_id, render_id=render_id)
    path, kept = get_kept_file_or_raise(render=render, key=key)
    return FileResponse(path, media_type=kept.media_type,
                        filename=f"{render.id}-{kept.filename}" if kept.attachment else None)


@router.get("/api/renders/{render_id}/video", response_class=FileResponse)
def get_video(render_id: str, principal: CurrentPrincipal, session: DbSession) -> FileResponse:
    """The MP4 (supports HTTP range requests for seeking)."""
    return _file(render_id, principal, session, VIDEO.key)


@router.get("/api/renders/{render_id}/thumbnail", response_class=FileResponse)
def get_thumbnail(render_id: str, principal: CurrentPrincipal, session: DbSession) -> FileResponse:
    """The JPEG thumbnail."""
    return _file(render_id, principal, session, THUMBNAIL.key)


@router.get("/api/renders/{render_id}/files/{key}", response_class=FileResponse)
def get_file(render_id: str, key: str, principal: CurrentPrincipal, session: DbSession) -> FileResponse:
    """Any file the render's steps keep, by its key (`video`, `thumbnail`, ...)."""
    return _file(render_id, principal, session, key)


@router.post("/api/renders/{render_id}/cancel")
def cancel(render_id: str, principal: CurrentPrincipal, session: DbSession, ctx: Context) -> dict:
    """Stop a queued or running render."""
    render = renders.cancel_render(session=session, principal=principal, render_id=render_id, ctx=ctx)
    return {"id": render.id, "status": render.status}


@router.delete("/api/renders/{render_id}")
def delete(render_id: str, principal: CurrentPrincipal, session: DbSession, ctx: Context) -> dict:
    """Delete a render and free its storage."""
    renders.delete_render(session=session, principal=principal, render_id=render_id, ctx=ctx)
    return {"id": render_id, "deleted": True}


@router.get("/api/v1/templates")
def templates() -> dict:
    """The visual templates."""
    return {"templates": [
        {"id": t.id, "name": t.name, "description": t.description, "premium": t.premium,
         "colors": {"top": "#%02x%02x%02x" % t.top, "bottom": "#%02x%02x%02x" % t.bottom}}
        for t in TEMPLATES.values()
    ]}


@router.get("/api/v1/voices")
def voices() -> dict:
    """The narration voices."""
    return {"voices": [{"id": k, "name": v} for k, v in VOICES.items()]}


@router.get("/api/usage")
def usage(principal: CurrentPrincipal, session: DbSession) -> dict:
    """This month's usage against the plan's limits."""
    return quotas.get_usage_summary(session=session, tenant_id=principal.tenant_id, plan_id=principal.plan)
