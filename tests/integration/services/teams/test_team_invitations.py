"""Invitations through the services: the real email and its single-use link, who may accept, expiry,
resend and revoke, seats per plan, rate limits, and two accepts racing."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from factories import CTX, clear_rate_limits, emails_to, newest_email, set_plan, text_part
from redis import Redis
from shared_helpers import SettingsOverride
from sqlmodel import Session, select
from team_flows import invite_token, signed_in

from saas_app import routes
from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import AuditLog, AuthSession, Invitation, Membership, utcnow
from saas_app.services.auth.principal import Principal
from saas_app.services.auth.tokens import sha256_hex
from saas_app.services.core.errors import (
    AppError,
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    RateLimited,
    SeatLimitReached,
)
from saas_app.services.teams import invitations

pytestmark = pytest.mark.db

OWNER = "olivia@example.com"
INVITEE = "ivan@example.com"


def _owner(session: Session, plan: str = "pro") -> Principal:
    principal = signed_in(session, OWNER)
    set_plan(session, principal.tenant_id, plan)
    return dataclasses.replace(principal, plan=plan)


def _invite(session: Session, smtp: MailCatcher, principal: Principal, email: str = INVITEE,
            role: str = "member") -> tuple[invitations.InvitationView, str]:
    before = emails_to(smtp, email)
    view = invitations.create_invitation(session=session, principal=principal, email=email, role=role, ctx=CTX)
    session.commit()
    return view, invite_token(newest_email(smtp, email, before))


def _actions(session: Session, tenant_id: str) -> list[str]:
    session.expire_all()
    return [r.action for r in session.exec(select(AuditLog).where(AuditLog.tenant_id == tenant_id)
                                           .order_by(AuditLog.id)).all()]


def test_the_email_arrives_and_its_link_works_once(session: Session, mailbox: MailCatcher) -> None:
    owner = _owner(session)
    view, token = _invite(session, mailbox, owner, email=" Ivan@Example.com ", role="admin")
    assert (view.email, view.role, view.status, view.invited_by) == (INVITEE, "admin", "pending", OWNER)
    assert timedelta(days=6, hours=23) < view.expires_at - utcnow() <= timedelta(days=7)
    text = text_part(mailbox.wait_for(INVITEE))
    assert routes.absolute(routes.invite_link(token)) in text and OWNER in text and "7 days" in text
    row = session.exec(select(Invitation)).one()
    assert row.token_hash == sha256_hex(token) and token not in str(row.model_dump())

    preview = invitations.get_invitation_preview(session=session, token=token)
    assert (preview.email, preview.role, preview.status, preview.inviter_email) == (INVITEE, "admin", "pending", OWNER)
    invitee = signed_in(session, INVITEE)
    joined = invitations.accept_invitation(session=session, principal=invitee, token=token, ctx=CTX)
    session.commit()
    assert joined == owner.tenant_id
    member = session.exec(select(Membership).where(Membership.user_id == invitee.user_id,
                                                   Membership.tenant_id == owner.tenant_id)).one()
    assert member.role == "admin"
    auth_session = session.get(AuthSession, invitee.session_id)
    assert auth_session is not None and auth_session.tenant_id == owner.tenant_id
    assert invitations.get_invitation_preview(session=session, token=token).status == "accepted"
    with pytest.raises(Conflict):
        invitations.accept_invitation(session=session, principal=invitee, token=token, ctx=CTX)
    session.rollback()
    assert invitations.list_invitations(session=session, principal=owner) == []
    assert {"team.invitation_sent", "team.member_joined"} <= set(_actions(session, owner.tenant_id))


def test_only_the_invited_address_can_accept(session: Session, mailbox: MailCatcher) -> None:
    owner = _owner(session)
    _, token = _invite(session, mailbox, owner)
    stranger = signed_in(session, "mallory@example.com")
    with pytest.raises(Forbidden) as refused:
        invitations.accept_invitation(session=session, principal=stranger, token=token, ctx=CTX)
    assert refused.value.message == ("This invitation was sent to i***@example.com. "
                                     "Sign in with that address to accept it.")
    session.rollback()
    with pytest.raises(NotFound):
        invitations.accept_invitation(session=session, principal=stranger, token="not-a-token", ctx=CTX)
    key_caller = dataclasses.replace(signed_in(session, INVITEE), via="api_key", session_id="")
    with pytest.raises(Forbidden):
        invitations.accept_invitation(session=session, principal=key_caller, token=token, ctx=CTX)


def test_a_link_expires_after_seven_days(session: Session, mailbox: MailCatcher) -> None:
    owner = _owner(session)
    view, token = _invite(session, mailbox, owner)
    row = session.get(Invitation, view.id)
    assert row is not None
    row.expires_at = utcnow() - timedelta(seconds=1)  # seven days later
    session.add(row)
    session.commit()
    assert invitations.get_invitation_preview(session=session, token=token).status == "expired"
    assert [v.status for v in invitations.list_invitations(session=session, principal=owner)] == ["expired"]
    with pytest.raises(Gone) as gone:
        invitations.accept_invitation(session=session, principal=signed_in(session, INVITEE), token=token, ctx=CTX)
    assert gone.value.status_code == 410 and "expired" in gone.value.message
    session.rollback()
    again, _ = _invite(session, mailbox, owner)  # a new invitation replaces the expired one in the list
    assert [(v.id, v.status) for v in invitations.list_invitations(session=session, principal=owner)] == [
        (again.id, "pending")]


def test_resend_gives_a_new_link_and_the_old_one_stops_working(
    session: Session, mailbox: MailCatcher, redis_client: Redis,
) -> None:
    owner = _owner(session)
    view, old_token = _invite(session, mailbox, owner)
    before = emails_to(mailbox, INVITEE)
    resent = invitations.resend_invitation(session=session, principal=owner, invitation_id=view.id, ctx=CTX)
    session.commit()
    new_token = invite_token(newest_email(mailbox, INVITEE, before))
    assert new_token != old_token and resent.sent_at >= view.sent_at and resent.id == view.id
    with pytest.raises(NotFound):
        invitations.get_invitation_preview(session=session, token=old_token)
    invitee = signed_in(session, INVITEE)
    with pytest.raises(NotFound):
        invitations.accept_invitation(session=session, principal=invitee, token=old_token, ctx=CTX)
    joined = invitations.accept_invitation(session=session, principal=invitee, token=new_token, ctx=CTX)
    assert joined == owner.tenant_id
    session.commit()
    assert "team.invitation_resent" in _actions(session, owner.tenant_id)


def test_a_revoked_invitation_cannot_be_accepted(session: Session, mailbox: MailCatcher) -> None:
    owner = _owner(session)
    view, token = _invite(session, mailbox, owner)
    invitations.revoke_invitation(session=session, principal=owner, invitation_id=view.id, ctx=CTX)
    session.commit()
    assert invitations.list_invitations(session=session, principal=owner) == []
    assert invitations.get_invitation_preview(session=session, token=token).status == "revoked"
    with pytest.raises(Gone):
        invitations.accept_invitation(session=session, principal=signed_in(session, INVITEE), token=token, ctx=CTX)
    session.rollback()
    for again in (invitations.revoke_invitation, invitations.resend_invitation):
        with pytest.raises(NotFound):
            again(session=session, principal=owner, invitation_id=view.id, ctx=CTX)
    assert "team.invitation_revoked" in _actions(session, owner.tenant_id)


@pytest.mark.parametrize(("role", "email", "invited_role", "error"), [
    ("member", INVITEE, "member", Forbidden),
    ("admin", INVITEE, "owner", Forbidden),
    ("owner", "not an address", "member", InvalidInput),
    ("owner", INVITEE, "boss", InvalidInput),
    ("owner", OWNER, "member", Conflict),
])
def test_invitations_are_refused_with_a_reason(session: Session, mailbox: MailCatcher, role: str, email: str,
                                               invited_role: str, error: type[AppError]) -> None:
    principal = dataclasses.replace(_owner(session), role=role)
    with pytest.raises(error) as refused:
        invitations.create_invitation(session=session, principal=principal, email=email, role=invited_role, ctx=CTX)
    assert refused.value.message and emails_to(mailbox, email) == 0


def test_a_second_invitation_to_a_pending_address_is_refused(session: Session, mailbox: MailCatcher) -> None:
    owner = _owner(session)
    _invite(session, mailbox, owner)
    with pytest.raises(Conflict) as refused:
        invitations.create_invitation(session=session, principal=owner, email=INVITEE, role="member", ctx=CTX)
    assert "resend" in refused.value.message and emails_to(mailbox, INVITEE) == 1


@pytest.mark.parametrize(("plan", "seats", "message"), [
    ("free", 1, "Your Free plan has 1 seat and it is in use (pending invitations count). Upgrade to Pro for 5 seats."),
    ("pro", 5, "Your Pro plan has 5 seats and they are all in use (pending invitations count). "
               "Upgrade to Enterprise for unlimited seats."),
    ("enterprise", None, ""),
])
def test_seats_count_members_and_pending_invitations(session: Session, mailbox: MailCatcher,
                                                     app_settings: SettingsOverride, plan: str, seats: int | None,
                                                     message: str) -> None:
    app_settings.set(INVITES_PER_INVITER_PER_HOUR=50, INVITES_PER_WORKSPACE_PER_HOUR=50)
    owner = _owner(session, plan)
    free_seats = (seats or 9) - 1  # the owner holds one; unlimited: any number works (9 tried)
    for n in range(free_seats):
        _invite(session, mailbox, owner, email=f"guest{n}@example.com")
    if seats is None:
        assert len(invitations.list_invitations(session=session, principal=owner)) == 8
        return
    with pytest.raises(SeatLimitReached) as full:
        invitations.create_invitation(session=session, principal=owner, email="one-more@example.com",
                                      role="member", ctx=CTX)
    assert full.value.status_code == 402 and full.value.seats == seats
    assert full.value.upgrade_url == routes.absolute(routes.BILLING) and full.value.message == message
    assert emails_to(mailbox, "one-more@example.com") == 0


def test_seats_are_checked_again_on_accept(session: Session, mailbox: MailCatcher) -> None:
    owner = _owner(session, "pro")
    _, token = _invite(session, mailbox, owner)
    set_plan(session, owner.tenant_id, "free")  # downgraded meanwhile: the owner fills the one seat
    with pytest.raises(SeatLimitReached):
        invitations.accept_invitation(session=session, principal=signed_in(session, INVITEE), token=token, ctx=CTX)
    session.rollback()
    assert invitations.get_invitation_preview(session=session, token=token).status == "pending"


def test_invitation_emails_are_rate_limited_and_a_refusal_sends_nothing(
    session: Session, mailbox: MailCatcher, app_settings: SettingsOverride, redis_client: Redis,
) -> None:
    app_settings.set(INVITES_PER_WORKSPACE_PER_HOUR=2)
    owner = _owner(session, "enterprise")
    view, _ = _invite(session, mailbox, owner, email="a@example.com")
    _invite(session, mailbox, owner, email="b@example.com")
    with pytest.raises(RateLimited) as limited:
        invitations.create_invitation(session=session, principal=owner, email="c@example.com", role="member",
                                      ctx=CTX)
    assert limited.value.status_code == 429 and limited.value.retry_after > 0
    with pytest.raises(RateLimited):
        invitations.resend_invitation(session=session, principal=owner, invitation_id=view.id, ctx=CTX)
    assert emails_to(mailbox, "c@example.com") == 0 and emails_to(mailbox, "a@example.com") == 1
    session.rollback()
    assert session.exec(select(Invitation).where(Invitation.email == "c@example.com")).first() is None
    clear_rate_limits(redis_client)  # an hour later
    _invite(session, mailbox, owner, email="c@example.com")


def test_two_accepts_at_once_make_one_member(session: Session, mailbox: MailCatcher) -> None:
    owner = _owner(session)
    _, token = _invite(session, mailbox, owner)
    callers = [signed_in(session, INVITEE), signed_in(session, INVITEE)]  # two devices of the invitee
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def accept(principal: Principal) -> None:
        with Session(get_engine()) as own:
            barrier.wait()
            try:
                invitations.accept_invitation(session=own, principal=principal, token=token, ctx=CTX)
                own.commit()
                outcomes.append("joined")
            except Conflict:
                own.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=accept, args=(p,)) for p in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "joined"]
    session.expire_all()
    members = session.exec(select(Membership).where(Membership.tenant_id == owner.tenant_id)).all()
    assert len(members) == 2
    joined = session.exec(select(AuditLog).where(AuditLog.action == "team.member_joined")).all()
    assert len(joined) == 1
