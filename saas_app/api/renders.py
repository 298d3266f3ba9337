"""Render routes: submit, list, follow, download, cancel, delete; templates and usage."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from saas_app.api.capacity import ApiRoute
from saas_app.api.deps import Context, CurrentPrincipal, DbSession
from saas_app.api.errors import AUTH, BODY, errors
from saas_app.api.files import FileAnswer, file_responses, send_download
from saas_app.api.params import PageLimit, PageOffset, PathId
from saas_app.api.schemas import Deleted, RenderCanceled, TemplateList, VoiceList
from saas_app.services.renders import submission as renders
from saas_app.services.renders import views
from saas_app.services.renders.files import get_kept_file_or_raise
from saas_app.services.renders.input import RenderInput
from saas_app.services.renders.steps.video import THUMBNAIL, VIDEO
from saas_app.services.renders.views import RenderDetail, RenderPage, RenderSubmitted
from saas_app.services.usage import quotas
from saas_app.services.usage.views import UsageSummary

router = APIRouter(route_class=ApiRoute, tags=["renders"])


def _submit(body: RenderInput, principal: CurrentPrincipal, session: DbSession, ctx: Context) -> RenderSubmitted:
    render = renders.create_render(session=session, principal=principal, request=body, ctx=ctx)
    return RenderSubmitted.from_row(render)


_SUBMIT_ERRORS = errors(*AUTH, *BODY, 402, 429, 503, 507)
router.add_api_route("/api/renders", _submit, methods=["POST"], status_code=202, summary="Submit a render",
                     response_model=RenderSubmitted, responses=_SUBMIT_ERRORS)
router.add_api_route("/render", _submit, methods=["POST"], status_code=202,
                     summary="Submit a render (integration guide path)", response_model=RenderSubmitted,
                     responses=_SUBMIT_ERRORS)


@router.get("/api/renders", response_model=RenderPage, responses=errors(*AUTH, 422))
def list_renders(
    principal: CurrentPrincipal, session: DbSession,
    limit: PageLimit = 20, offset: PageOffset = 0,
) -> RenderPage:
    """This tenant's renders, newest first."""
    return views.list_render_page(session=session, principal=principal, limit=limit, offset=offset)


@router.get("/api/renders/{render_id}", response_model=RenderDetail, responses=errors(*AUTH, 404, 422))
def get_render(render_id: PathId, principal: CurrentPrincipal, session: DbSession) -> RenderDetail:
    """One render with per-step progress, usage charged and any error."""
    return views.get_render_detail(session=session, principal=principal, render_id=render_id)


def _file(render_id: str, principal: CurrentPrincipal, session: DbSession, key: str) -> Response:
    render = renders.get_render_or_raise(session=session, tenant_id=principal.tenant_id, render_id=render_id)
    return send_download(get_kept_file_or_raise(render=render, key=key))


@router.get("/api/renders/{render_id}/video", response_class=FileAnswer,
            responses=file_responses("video/mp4", *AUTH, 404, 422))
def get_video(render_id: PathId, principal: CurrentPrincipal, session: DbSession) -> Response:
    """The MP4 (supports HTTP range requests for seeking)."""
    return _file(render_id, principal, session, VIDEO.key)


@router.get("/api/renders/{render_id}/thumbnail", response_class=FileAnswer,
            responses=file_responses("image/jpeg", *AUTH, 404, 422))
def get_thumbnail(render_id: PathId, principal: CurrentPrincipal, session: DbSession) -> Response:
    """The JPEG thumbnail."""
    return _file(render_id, principal, session, THUMBNAIL.key)


@router.get("/api/renders/{render_id}/files/{key}", response_class=FileAnswer,
            responses=file_responses("application/octet-stream", *AUTH, 404, 422))
def get_file(render_id: PathId, key: PathId, principal: CurrentPrincipal, session: DbSession) -> Response:
    """Any file the render's steps keep, by its key (`video`, `thumbnail`, ...)."""
    return _file(render_id, principal, session, key)


@router.post("/api/renders/{render_id}/cancel", response_model=RenderCanceled,
             responses=errors(*AUTH, 404, 409, 422))
def cancel(render_id: PathId, principal: CurrentPrincipal, session: DbSession, ctx: Context) -> RenderCanceled:
    """Stop a queued or running render."""
    render = renders.cancel_render(session=session, principal=principal, render_id=render_id, ctx=ctx)
    return RenderCanceled(id=render.id, status=render.status)


@router.delete("/api/renders/{render_id}", response_model=Deleted, responses=errors(*AUTH, 404, 422, 503))
def delete(render_id: PathId, principal: CurrentPrincipal, session: DbSession, ctx: Context) -> Deleted:
    """Delete a render and free its storage."""
    renders.delete_render(session=session, principal=principal, render_id=render_id, ctx=ctx)
    return Deleted(id=render_id)


@router.get("/api/v1/templates", response_model=TemplateList)
def templates() -> TemplateList:
    """The visual templates."""
    return TemplateList(templates=views.list_templates())


@router.get("/api/v1/voices", response_model=VoiceList)
def voices() -> VoiceList:
    """The narration voices."""
    return VoiceList(voices=views.list_voices())


@router.get("/api/usage", response_model=UsageSummary, responses=errors(*AUTH))
def usage(principal: CurrentPrincipal, session: DbSession) -> UsageSummary:
    """This month's usage against the plan's limits."""
    return quotas.get_usage(session=session, principal=principal)
