"""What a data export holds, by the requester's role in the workspace (`permissions.can`).

Everyone gets their profile (with every workspace they belong to) and what they may see of the
workspace: its videos, files, asset library and usage. The activity log, the members' addresses
and pending invitations, and billing go only to the roles allowed to see them.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, select

from saas_app.models import (
    Asset,
    AuditLog,
    Invitation,
    Membership,
    Render,
    Subscription,
    Tenant,
    UsageRecord,
    User,
    iso_or_none,
    utcnow,
)
from saas_app.services.assets import library
from saas_app.services.core.storage import Area, get_store
from saas_app.services.renders.files import render_key
from saas_app.services.renders.steps.registry import kept_files
from saas_app.services.teams.permissions import Action, can
from saas_app.services.usage.metrics import METRICS

Document = dict[str, object] | list[dict[str, object]]


@dataclass(frozen=True)
class Part:
    """One file (or folder) of the export, who gets it, and its README line."""

    name: str
    action: Action | None  # None: every role
    line: str
    summary: str  # how the account page names it ("the activity log")


PARTS = [
    Part("profile.json", None, "You: user id, email, your role here, when you joined and last signed in, and "
         "every workspace you belong to (name and role).", "your profile"),
    Part("tenant.json", None, "This workspace: id, name, plan, when it was created.", ""),
    Part("usage.jsonl", Action.USAGE_VIEW, "The usage ledger: one line per metered step (metric, amount, month, "
         "time).", "usage"),
    Part("renders.json", Action.RENDER_VIEW, "Every video's metadata: topic, scenes, template, voice, status, times.",
         "the workspace's videos"),
    Part("renders/", Action.RENDER_VIEW, "The video files themselves: renders/<id>/{files}.", ""),
    Part("assets.json", Action.ASSET_MANAGE, "The asset library: the images and music uploaded (name, type, size, "
         "focal point).", "the asset library"),
    Part("assets/", Action.ASSET_MANAGE, "The uploaded files themselves (images as stored: without their metadata).",
         ""),
    Part("audit.json", Action.AUDIT_VIEW, "The workspace's activity log: who did what, when, from where.",
         "the activity log"),
    Part("members.json", Action.MEMBERS_MANAGE, "The members (email, role, joined, last active) and pending "
         "invitations.", "the members' addresses"),
    Part("billing.json", Action.BILLING_MANAGE, "The plan and subscription as known to us (Stripe ids, status, "
         "renewal).", "billing"),
    Part("README.txt", None, "This file.", ""),
]


def parts_for(role: str) -> list[Part]:
    """The parts of the export a role gets."""
    return [p for p in PARTS if p.action is None or can(role, p.action)]


def _in_words(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def export_summary(role: str) -> str:
    """One sentence for the account page: what this role's export includes (and what it leaves out)."""
    given = [p.summary for p in parts_for(role) if p.summary]
    left = [p.summary for p in PARTS if p.summary and p not in parts_for(role)]
    text = f"Your export includes {_in_words(given)}."
    return text + (f" Not included for your role: {_in_words(left)}." if left else "")


def readme(role: str) -> str:
    """The export's README.txt for a role: what each file holds, the files kept per video, the metrics."""
    width = max(len(m.name) for m in METRICS) + 2
    metrics = "\n".join(f"{m.name.ljust(width)} {m.label} ({m.unit.name}"
                         f"{', a level' if m.gauge else ', per month'})" for m in METRICS)
    files = _in_words([kept.filename for kept in kept_files()])
    lines = "\n".join(f"{p.name.ljust(14)} {p.line.format(files=files)}" for p in parts_for(role))
    left = [p.summary for p in PARTS if p.summary and p not in parts_for(role)]
    scope = f"This export was made for your role in the workspace ({role})."
    scope += f" Not included for that role: {_in_words(left)}.\n\n" if left else "\n\n"
    return ("Your Narrated Studio data export\n================================\n\n"
            "Every file is machine-readable (JSON, or JSON Lines: one JSON object per line).\n\n"
            f"{scope}{lines}\n\nThe metrics in usage.jsonl:\n{metrics}\n")


def _profile(session: Session, tenant: Tenant, user: User, role: str) -> Document:
    rows = session.exec(select(Membership, Tenant).join(Tenant, col(Tenant.id) == col(Membership.tenant_id))
                        .where(Membership.user_id == user.id).order_by(col(Tenant.name))).all()
    return {"user_id": user.id, "email": user.email, "role": role, "created_at": iso_or_none(user.created_at),
            "last_login_at": iso_or_none(user.last_login_at),
            "memberships": [{"workspace": t.name, "tenant_id": t.id, "role": m.role,
                             "joined_at": iso_or_none(m.created_at)} for m, t in rows]}


def _renders(session: Session, tenant: Tenant) -> Document:
    renders = session.exec(select(Render).where(Render.tenant_id == tenant.id)).all()
    return [{"id": r.id, "topic": r.topic, "scenes": json.loads(r.scenes_json), "template": r.template,
             "voice": r.voice, "resolution": r.resolution, "status": r.status, "error": r.error,
             "duration_seconds": r.duration_seconds, "created_at": iso_or_none(r.created_at),
             "finished_at": iso_or_none(r.finished_at), "deleted": r.deleted_at is not None} for r in renders]


def _audit(session: Session, tenant: Tenant) -> Document:
    audit = session.exec(select(AuditLog).where(AuditLog.tenant_id == tenant.id).order_by(col(AuditLog.id))).all()
    return [{"action": a.action, "actor": a.actor, "target": a.target, "ip": a.ip, "user_agent": a.user_agent,
             "request_id": a.request_id, "created_at": iso_or_none(a.created_at),
             "details": json.loads(a.details or "{}")} for a in audit]


def _members(session: Session, tenant: Tenant) -> Document:
    rows = session.exec(select(Membership, User).join(User, col(User.id) == col(Membership.user_id))
                        .where(Membership.tenant_id == tenant.id).order_by(col(User.email))).all()
    invites = session.exec(select(Invitation).where(Invitation.tenant_id == tenant.id,
                                                    col(Invitation.accepted_at).is_(None),
                                                    col(Invitation.revoked_at).is_(None),
                                                    col(Invitation.expires_at) > utcnow())).all()
    return {"members": [{"email": u.email, "role": m.role, "joined_at": iso_or_none(m.created_at),
                         "last_active_at": iso_or_none(m.last_active_at)} for m, u in rows],
            "pending_invitations": [{"email": i.email, "role": i.role, "sent_at": iso_or_none(i.sent_at),
                                     "expires_at": iso_or_none(i.expires_at)} for i in invites]}


def _billing(session: Session, tenant: Tenant) -> Document:
    sub = session.get(Subscription, tenant.id)
    return {"plan": tenant.plan, "stripe_customer_id": tenant.stripe_customer_id, "invoices": [],
            "subscription": None if sub is None else {
                "id": sub.stripe_subscription_id, "plan": sub.plan, "status": sub.status,
                "current_period_end": iso_or_none(sub.current_period_end),
                "cancel_at_period_end": sub.cancel_at_period_end}}


_BUILDERS: dict[str, Callable[[Session, Tenant], Document]] = {
    "renders.json": _renders, "audit.json": _audit, "members.json": _members, "billing.json": _billing,
}


def _copy(zf: zipfile.ZipFile, key: str, name: str) -> None:
    try:
        with get_store(Area.RENDERS).open(key=key) as source, zf.open(name, "w", force_zip64=True) as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
    except FileNotFoundError:
        pass


def _add_render_files(zf: zipfile.ZipFile, session: Session, tenant_id: str) -> None:
    """Copy every kept file of the workspace's renders from the store into the ZIP."""
    for render in session.exec(select(Render).where(Render.tenant_id == tenant_id,
                                                    col(Render.deleted_at).is_(None))).all():
        for kept in kept_files():
            _copy(zf, render_key(tenant_id, render.id, kept.filename), f"renders/{render.id}/{kept.filename}")


def _add_assets(zf: zipfile.ZipFile, session: Session, tenant_id: str) -> None:
    """The asset library's list and files."""
    assets = session.exec(select(Asset).where(Asset.tenant_id == tenant_id)).all()
    zf.writestr("assets.json", json.dumps([library.view(a).model_dump() for a in assets], indent=2, sort_keys=True))
    for asset in assets:
        _copy(zf, library.asset_key(tenant_id, asset.filename), f"assets/{asset.filename}")


def _usage(session: Session, tenant_id: str) -> str:
    ledger = session.exec(select(UsageRecord).where(UsageRecord.tenant_id == tenant_id).order_by(col(UsageRecord.id)))
    return "".join(json.dumps({"event_key": u.event_key, "metric": u.metric, "amount": u.amount, "period": u.period,
                               "render_id": u.render_id, "created_at": iso_or_none(u.created_at)}, sort_keys=True)
                   + "\n" for u in ledger.all())


def write_zip(*, path: Path, session: Session, tenant: Tenant, user: User, role: str) -> None:
    """Write the export ZIP of `user` in `tenant` for `role` (only the parts that role may see)."""
    names = {p.name for p in parts_for(role)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("profile.json", json.dumps(_profile(session, tenant, user, role), indent=2, sort_keys=True))
        zf.writestr("tenant.json", json.dumps({"tenant_id": tenant.id, "name": tenant.name, "plan": tenant.plan,
                                               "created_at": iso_or_none(tenant.created_at)}, indent=2, sort_keys=True))
        for name, build in _BUILDERS.items():
            if name in names:
                zf.writestr(name, json.dumps(build(session, tenant), indent=2, sort_keys=True))
        if "usage.jsonl" in names:
            zf.writestr("usage.jsonl", _usage(session, tenant.id))
        if "renders/" in names:
            _add_render_files(zf, session, tenant.id)
        if "assets.json" in names:
            _add_assets(zf, session, tenant.id)
        zf.writestr("README.txt", readme(role))
