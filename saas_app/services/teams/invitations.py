"""Invitations to a workspace: a single-use emailed link, valid `INVITATION_TTL_DAYS`, stored hashed.

An owner or admin invites an address with a role; the invitee signs in with the usual magic link
(as that address) and accepts. Members plus pending invitations may not exceed the plan's seats.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, and_, update
from sqlmodel import Session, col, func, select

from saas_app import routes
from saas_app.models import Invitation, Membership, Tenant, User, utcnow
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.auth.magic_links import normalize_email
from saas_app.services.auth.principal import Principal
from saas_app.services.auth.tokens import new_secret_token, sha256_hex
from saas_app.services.core.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound, RateLimited
from saas_app.services.core.rate_limit import Limit, check_limits, refund_limits
from saas_app.services.core.views import IsoDatetime, View
from saas_app.services.teams import invitation_mail
from saas_app.services.teams.members import count_members
from saas_app.services.teams.memberships import get_membership, lock_workspace
from saas_app.services.teams.permissions import Action, Role, assignable_roles, require
from saas_app.services.teams.seats import check_seat_free, plan_of
from saas_app.services.teams.status import InvitationStatus
from saas_app.services.teams.switching import switch_workspace
from saas_app.settings import get_settings

NOT_FOUND = "We couldn't find that invitation. It may have been withdrawn."
LINK_INVALID = "This invitation link is not valid. Ask the person who invited you for a new one."


class InvitationView(View):
    """A pending (or expired, not yet accepted or revoked) invitation, as the team page lists it."""

    id: str
    email: str
    role: str
    invited_by: str  # the inviter's email, or "" when they are gone
    created_at: IsoDatetime
    sent_at: IsoDatetime
    expires_at: IsoDatetime
    status: InvitationStatus  # PENDING or EXPIRED


class InvitationPreview(View):
    """What the invitation page shows before the invitee accepts."""

    workspace_name: str
    inviter_email: str
    email: str
    role: str
    expires_at: IsoDatetime
    status: InvitationStatus


def _status(row: Invitation) -> InvitationStatus:
    if row.accepted_at is not None:
        return InvitationStatus.ACCEPTED
    if row.revoked_at is not None:
        return InvitationStatus.REVOKED
    return InvitationStatus.EXPIRED if row.expires_at <= utcnow() else InvitationStatus.PENDING


def _email_of(session: Session, user_id: str) -> str:
    user = session.get(User, user_id)
    return user.email if user else ""


def _view(session: Session, row: Invitation) -> InvitationView:
    status = InvitationStatus.EXPIRED if row.expires_at <= utcnow() else InvitationStatus.PENDING
    return InvitationView(id=row.id, email=row.email, role=row.role, invited_by=_email_of(session, row.invited_by),
                          created_at=row.created_at, sent_at=row.sent_at, expires_at=row.expires_at, status=status)


def _open(tenant_id: str) -> ColumnElement[bool]:
    return and_(col(Invitation.tenant_id) == tenant_id, col(Invitation.accepted_at).is_(None),
                col(Invitation.revoked_at).is_(None))


def count_pending(*, session: Session, tenant_id: str, except_id: str = "") -> int:
    """Unexpired invitations of the workspace not yet accepted or revoked (each holds a seat)."""
    return int(session.exec(select(func.count()).select_from(Invitation).where(
        _open(tenant_id), col(Invitation.expires_at) > utcnow(), Invitation.id != except_id)).one())


def list_invitations(*, session: Session, principal: Principal) -> list[InvitationView]:
    """The workspace's invitations not accepted or revoked (pending and expired), newest first.

    Raises:
        Forbidden: The caller's role may not manage members.
    """
    require(principal, Action.MEMBERS_MANAGE)
    rows = session.exec(select(Invitation).where(_open(principal.tenant_id))
                        .order_by(col(Invitation.created_at).desc(), col(Invitation.id))).all()
    return [_view(session, row) for row in rows]


def _check_role(principal: Principal, role: str) -> Role:
    if role not in {r.value for r in Role}:
        raise InvalidInput("Choose a role: owner, admin or member.", field="role")
    if Role(role) not in assignable_roles(principal.role):
        raise Forbidden("Only an owner of this workspace can make or remove owners.")
    return Role(role)


def _count_send(principal: Principal, email: str) -> list[Limit]:
    """Count one invitation email against the limits (to this address; by this person; from this
    workspace), each refused with its own reason; returns what was counted, to refund on failure.

    Raises:
        RateLimited: One of the limits is reached (nothing is counted then).
    """
    settings = get_settings()
    per_address = [Limit(f"inv:e:{principal.tenant_id}:{sha256_hex(email)[:24]}:h",
                         settings.INVITES_PER_ADDRESS_PER_HOUR, 3600)]
    check_limits(limits=per_address, rule="team_invitation_address",
                 message=f"{email} has already been sent {settings.INVITES_PER_ADDRESS_PER_HOUR} invitation "
                         "emails this hour. Please wait before sending another.")
    limits = [(Limit(f"inv:u:{principal.user_id}:h", settings.INVITES_PER_INVITER_PER_HOUR, 3600),
               "You have sent too many invitations this hour. Please wait."),
              (Limit(f"inv:t:{principal.tenant_id}:h", settings.INVITES_PER_WORKSPACE_PER_HOUR, 3600),
               "Too many invitations were sent from this workspace this hour. Please wait.")]
    counted = per_address
    try:
        for limit, message in limits:
            check_limits(limits=[limit], message=message, rule="team_invitation")
            counted = [*counted, limit]
    except RateLimited:
        refund_limits(limits=counted)
        raise
    return counted


def _issue_and_send(session: Session, principal: Principal, row: Invitation) -> None:
    """Give `row` a new token and expiry, flush it and email the link (rate limited; the hits are given
    back when the email cannot be sent)."""
    limits = _count_send(principal, row.email)
    try:
        token = new_secret_token(32)
        now = utcnow()
        row.token_hash, row.sent_at = sha256_hex(token), now
        row.expires_at = now + timedelta(days=get_settings().INVITATION_TTL_DAYS)
        session.add(row)
        session.flush()
        tenant = session.get(Tenant, row.tenant_id)
        assert tenant is not None
        invitation_mail.send_invitation(to=row.email, link=routes.absolute(routes.invite_link(token)),
                                        workspace=tenant.name, inviter=principal.email, role=row.role,
                                        days=get_settings().INVITATION_TTL_DAYS)
    except Exception:
        refund_limits(limits=limits)
        raise


def create_invitation(*, session: Session, principal: Principal, email: str, role: str,
                      ctx: RequestContext) -> InvitationView:
    """Invite `email` to the caller's workspace with `role` and email them the link (flushed).

    Raises:
        Forbidden: The caller may not manage members, or may not give `role`.
        InvalidInput: A bad address or an unknown role (422).
        Conflict: The address is already a member, or already has a pending invitation.
        SeatLimitReached: Members and pending invitations fill the plan's seats (402).
        RateLimited: Too many invitation emails this hour (workspace or inviter).
        ServiceUnavailable: Redis or SMTP is down (nothing is stored).
    """
    require(principal, Action.MEMBERS_MANAGE)
    if not (email or "").strip():
        raise InvalidInput("Enter the email address of the person to invite.", field="email")
    address = normalize_email(email)
    chosen = _check_role(principal, role)
    member = session.exec(select(Membership).join(User, col(User.id) == col(Membership.user_id))
                          .where(Membership.tenant_id == principal.tenant_id, User.email == address)).first()
    if member is not None:
        raise Conflict(f"{address} is already a member of this workspace.")
    pending = session.exec(select(Invitation).where(_open(principal.tenant_id), Invitation.email == address,
                                                    col(Invitation.expires_at) > utcnow())).first()
    if pending is not None:
        raise Conflict(f"{address} is already invited; resend the invitation instead.")
    lock_workspace(session=session, tenant_id=principal.tenant_id)
    check_seat_free(plan_id=principal.plan, taken=count_members(session=session, tenant_id=principal.tenant_id)
                    + count_pending(session=session, tenant_id=principal.tenant_id))
    session.exec(update(Invitation).where(_open(principal.tenant_id), col(Invitation.email) == address)
                 .values(revoked_at=utcnow()))  # expired ones to this address: the new one replaces them
    row = Invitation(tenant_id=principal.tenant_id, email=address, role=chosen.value, token_hash=new_secret_token(16),
                     invited_by=principal.user_id, expires_at=utcnow())
    record_event(session=session, action="team.invitation_sent", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=address, details={"role": row.role})
    _issue_and_send(session, principal, row)
    return _view(session, row)


def _open_or_raise(session: Session, principal: Principal, invitation_id: str) -> Invitation:
    row = session.get(Invitation, invitation_id) if invitation_id and len(invitation_id) <= 32 else None
    if row is None or row.tenant_id != principal.tenant_id or row.accepted_at or row.revoked_at:
        raise NotFound(NOT_FOUND)
    return row


def resend_invitation(*, session: Session, principal: Principal, invitation_id: str,
                      ctx: RequestContext) -> InvitationView:
    """Email the invitation again with a new link (the old link stops working) and a new expiry.

    Raises:
        Forbidden: The caller may not manage members (or, not an owner, resends an owner invitation).
        NotFound: No such open invitation in the caller's workspace.
        SeatLimitReached: An expired invitation would take a seat the plan no longer has.
        RateLimited: Too many invitation emails this hour.
        ServiceUnavailable: Redis or SMTP is down (nothing changes).
    """
    require(principal, Action.MEMBERS_MANAGE)
    row = _open_or_raise(session, principal, invitation_id)
    _check_role(principal, row.role)
    if row.expires_at <= utcnow():
        check_seat_free(plan_id=principal.plan, taken=count_members(session=session, tenant_id=principal.tenant_id)
                        + count_pending(session=session, tenant_id=principal.tenant_id, except_id=row.id))
    record_event(session=session, action="team.invitation_resent", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=row.email)
    _issue_and_send(session, principal, row)
    return _view(session, row)


def revoke_invitation(*, session: Session, principal: Principal, invitation_id: str, ctx: RequestContext) -> None:
    """Withdraw an invitation: its link stops working and its seat is free again.

    Raises:
        Forbidden: The caller may not manage members.
        NotFound: No such open invitation in the caller's workspace.
    """
    require(principal, Action.MEMBERS_MANAGE)
    row = _open_or_raise(session, principal, invitation_id)
    row.revoked_at = utcnow()
    session.add(row)
    record_event(session=session, action="team.invitation_revoked", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=row.email)
    session.flush()


def _by_token(session: Session, token: str) -> Invitation:
    row = None
    if token and len(token) <= 200:
        row = session.exec(select(Invitation).where(Invitation.token_hash == sha256_hex(token))).first()
    if row is None:
        raise NotFound(LINK_INVALID)
    return row


def get_invitation_preview(*, session: Session, token: str) -> InvitationPreview:
    """What an invitation link invites to (no sign-in needed: the link itself is the secret).

    Raises:
        NotFound: The token is unknown (or was replaced by a resend).
    """
    row = _by_token(session, token)
    tenant = session.get(Tenant, row.tenant_id)
    return InvitationPreview(workspace_name=tenant.name if tenant else "",
                             inviter_email=_email_of(session, row.invited_by), email=row.email,
                             role=row.role, expires_at=row.expires_at, status=_status(row))


def mask_email(address: str) -> str:
    """`a***@example.com`: enough to recognise one's own address, not enough to learn another's."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _check_acceptable(row: Invitation, principal: Principal) -> None:
    if principal.via == "api_key":
        raise Forbidden("Sign in to accept an invitation; an API key cannot.")
    if principal.email != row.email:
        raise Forbidden(f"This invitation was sent to {mask_email(row.email)}. "
                        "Sign in with that address to accept it.")
    if row.accepted_at is not None:
        raise Conflict("This invitation was already accepted.")
    if row.revoked_at is not None:
        raise Gone("This invitation was withdrawn. Ask the person who invited you for a new one.")
    if row.expires_at <= utcnow():
        raise Gone("This invitation has expired. Ask the person who invited you to resend it.")


def accept_invitation(*, session: Session, principal: Principal, token: str, ctx: RequestContext) -> str:
    """Join the workspace an invitation is for and make it this session's current one (flushed).

    Returns:
        The tenant id of the workspace joined.

    Raises:
        NotFound: Unknown token.
        Forbidden: Signed in as another address, or an API key.
        Conflict: Already accepted (also when another accept won a race).
        Gone: Withdrawn or expired (410).
        SeatLimitReached: The workspace's seats are all taken by members now.
    """
    row = _by_token(session, token)
    _check_acceptable(row, principal)
    already = get_membership(session=session, tenant_id=row.tenant_id, user_id=principal.user_id)
    if already is None:
        tenant = session.get(Tenant, row.tenant_id)
        assert tenant is not None
        lock_workspace(session=session, tenant_id=tenant.id)
        check_seat_free(plan_id=plan_of(tenant).id, taken=count_members(session=session, tenant_id=tenant.id))
    won = session.exec(update(Invitation).where(col(Invitation.id) == row.id, col(Invitation.accepted_at).is_(None),
                                                col(Invitation.revoked_at).is_(None)).values(accepted_at=utcnow()))
    if won.rowcount != 1:
        raise Conflict("This invitation was already accepted.")
    if already is None:
        session.add(Membership(tenant_id=row.tenant_id, user_id=principal.user_id, role=row.role))
        session.flush()
    record_event(session=session, action="team.member_joined", ctx=ctx, tenant_id=row.tenant_id,
                 user_id=principal.user_id, actor=principal.email, target=principal.email,
                 details={"role": row.role if already is None else already.role, "invitation": row.id})
    switch_workspace(session=session, principal=principal, tenant_id=row.tenant_id, ctx=ctx)
    return row.tenant_id
