"""Magic links on a real database and SMTP server: hashes only, one email, exactly-once use."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import redis
from factories import CTX, clear_rate_limits, html_part, link_and_code, make_user, request_link, tenant_id_of, text_part
from sqlmodel import Session, select

from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import AuditLog, MagicLink, utcnow
from saas_app.services.auth import magic_links
from saas_app.services.auth.tokens import sha256_hex
from saas_app.services.core.errors import AuthError, InvalidInput, RateLimited

pytestmark = pytest.mark.db

EMAIL = "ada@example.com"


def _links(session: Session) -> list[MagicLink]:
    session.expire_all()
    return list(session.exec(select(MagicLink).order_by(MagicLink.created_at)).all())


def _other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_request_stores_only_hashes(session: Session, mailbox: MailCatcher) -> None:
    token, code = request_link(session, mailbox, "  Ada@Example.COM ")
    [link] = _links(session)
    assert link.email == EMAIL
    assert link.token_hash == sha256_hex(token)
    assert len(link.code_hash) == 64 and code not in link.code_hash
    for column, value in link.model_dump().items():
        assert token not in str(value), f"raw token stored in {column}"
        assert code not in str(value), f"raw code stored in {column}"
    assert link.consumed_at is None and link.failed_attempts == 0
    assert timedelta(minutes=14) < link.expires_at - utcnow() <= timedelta(minutes=15)
    assert link.request_ip == CTX.ip


def test_request_sends_one_email_with_link_and_code(session: Session, mailbox: MailCatcher) -> None:
    token, code = request_link(session, mailbox, EMAIL)
    [message] = mailbox.messages()
    assert message["To"] == EMAIL
    assert code in message["Subject"]
    link = f"http://testserver/auth/verify?token={token}"
    text, html = text_part(message), html_part(message)
    assert link in text and link in html
    assert re.search(rf"\b{code}\b", text) and re.search(rf"\b{code}\b", html)
    assert "15 minutes" in text


def test_request_is_audited_and_the_same_for_known_and_unknown_addresses(
    session: Session, mailbox: MailCatcher, redis_client: redis.Redis
) -> None:
    user = make_user(session, email="known@example.com")
    request_link(session, mailbox, "known@example.com")
    request_link(session, mailbox, "nobody@example.com")
    rows = session.exec(select(AuditLog).where(AuditLog.action == "auth.link_requested")).all()
    by_actor = {row.actor: row for row in rows}
    assert by_actor["known@example.com"].tenant_id == tenant_id_of(user)
    assert by_actor["known@example.com"].user_id == user.id
    assert by_actor["nobody@example.com"].tenant_id is None
    assert {row.ip for row in rows} == {CTX.ip}
    assert len(mailbox.messages()) == 2


def test_next_path_is_kept_only_when_same_site(session: Session, mailbox: MailCatcher,
                                               redis_client: redis.Redis) -> None:
    request_link(session, mailbox, EMAIL, next_path="/library?page=2")
    clear_rate_limits(redis_client)
    request_link(session, mailbox, "eve@example.com", next_path="//evil.example/x")
    assert [link.next_path for link in _links(session)] == ["/library?page=2", "/create"]


def test_newer_request_supersedes_the_older_link(session: Session, mailbox: MailCatcher,
                                                 redis_client: redis.Redis) -> None:
    old_token, old_code = request_link(session, mailbox, EMAIL)
    clear_rate_limits(redis_client)
    new_token, _ = request_link(session, mailbox, EMAIL)
    assert old_token != new_token
    assert magic_links.peek_magic_link(session=session, token=old_token) is None
    with pytest.raises(AuthError):
        magic_links.consume_link_token(session=session, token=old_token)
    assert magic_links.consume_link_token(session=session, token=new_token).email == EMAIL


def test_second_request_within_a_minute_is_rate_limited(session: Session, mailbox: MailCatcher) -> None:
    request_link(session, mailbox, EMAIL)
    with pytest.raises(RateLimited) as caught:
        magic_links.request_magic_link(session=session, email=EMAIL.upper(), next_path=None, ctx=CTX)
    assert 0 < caught.value.retry_after <= 60
    assert len(mailbox.messages()) == 1


def test_sign_in_email_limits_survive_redis_losing_its_data(session: Session, mailbox: MailCatcher,
                                                            redis_client: redis.Redis) -> None:
    request_link(session, mailbox, EMAIL)
    request_link(session, mailbox, "grace@example.com")
    for link in _links(session):  # two minutes ago: out of the per-minute window, inside the hourly ones
        link.created_at = utcnow() - timedelta(minutes=2)
        session.add(link)
    session.commit()

    redis_client.flushdb()  # Redis restarted without its data
    request_link(session, mailbox, EMAIL)  # the minute window is not restored from an older link
    email_key = f"rl:ml:em:{sha256_hex(EMAIL)}"
    assert int(redis_client.get(f"{email_key}:h")) == 2  # one from the database plus this one
    assert 3600 - 125 <= redis_client.ttl(f"{email_key}:h") <= 3600 - 118  # the window started 2 min ago
    assert int(redis_client.get(f"rl:ml:ip:{CTX.ip}:h")) == 3

    redis_client.flushdb()
    with pytest.raises(RateLimited) as caught:  # the minute window is back from the newest link
        magic_links.request_magic_link(session=session, email=EMAIL, next_path=None, ctx=CTX)
    assert 0 < caught.value.retry_after <= 60
    assert len(mailbox.messages()) == 3


def test_expired_link_and_code_are_refused(session: Session, mailbox: MailCatcher) -> None:
    token, code = request_link(session, mailbox, EMAIL)
    [link] = _links(session)
    link.expires_at = utcnow() - timedelta(seconds=1)
    session.add(link)
    session.commit()
    assert magic_links.peek_magic_link(session=session, token=token) is None
    with pytest.raises(AuthError) as caught:
        magic_links.consume_link_token(session=session, token=token)
    assert caught.value.code == "link_invalid"
    with pytest.raises(AuthError):
        magic_links.consume_link_code(session=session, email=EMAIL, code=code)


def test_token_works_exactly_once(session: Session, mailbox: MailCatcher) -> None:
    token, _ = request_link(session, mailbox, EMAIL)
    assert magic_links.consume_link_token(session=session, token=token).email == EMAIL
    session.commit()
    with pytest.raises(AuthError, match="expired or was already used"):
        magic_links.consume_link_token(session=session, token=token)
    assert _links(session)[0].consumed_at is not None


def test_concurrent_consumers_get_the_link_exactly_once(session: Session, mailbox: MailCatcher) -> None:
    token, _ = request_link(session, mailbox, EMAIL)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def consume() -> None:
        with Session(get_engine()) as own:
            barrier.wait()
            try:
                magic_links.consume_link_token(session=own, token=token)
                own.commit()
                outcomes.append("ok")
            except AuthError:
                own.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=consume) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ok"] + ["refused"] * 7


def test_code_works_once_and_is_bound_to_the_address(session: Session, mailbox: MailCatcher) -> None:
    _, code = request_link(session, mailbox, EMAIL)
    with pytest.raises(AuthError):
        magic_links.consume_link_code(session=session, email="mallory@example.com", code=code)
    spaced = f"{code[:3]} {code[3:]}"  # as typed from the email, in another case
    assert magic_links.consume_link_code(session=session, email=" ADA@example.com", code=spaced).email == EMAIL
    session.commit()
    with pytest.raises(AuthError) as caught:
        magic_links.consume_link_code(session=session, email=EMAIL, code=code)
    assert caught.value.code == "code_invalid"


def test_four_wrong_codes_still_allow_the_right_one(session: Session, mailbox: MailCatcher) -> None:
    _, code = request_link(session, mailbox, EMAIL)
    for _ in range(4):
        with pytest.raises(AuthError):
            magic_links.consume_link_code(session=session, email=EMAIL, code=_other_code(code))
    assert _links(session)[0].failed_attempts == 4
    assert magic_links.consume_link_code(session=session, email=EMAIL, code=code).email == EMAIL


def test_five_wrong_codes_void_the_link(session: Session, mailbox: MailCatcher) -> None:
    token, code = request_link(session, mailbox, EMAIL)
    for _ in range(5):
        with pytest.raises(AuthError):
            magic_links.consume_link_code(session=session, email=EMAIL, code=_other_code(code))
    session.rollback()  # the failed attempts were committed by the service itself
    [link] = _links(session)
    assert link.failed_attempts == 5 and link.consumed_at is not None
    with pytest.raises(AuthError):
        magic_links.consume_link_code(session=session, email=EMAIL, code=code)
    with pytest.raises(AuthError):
        magic_links.consume_link_token(session=session, token=token)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef"])
def test_malformed_codes_are_invalid_input(session: Session, code: str) -> None:
    with pytest.raises(InvalidInput, match="6-digit code") as caught:
        magic_links.consume_link_code(session=session, email=EMAIL, code=code)
    assert caught.value.field == "code"


def test_peek_does_not_consume(session: Session, mailbox: MailCatcher) -> None:
    token, _ = request_link(session, mailbox, EMAIL)
    assert magic_links.peek_magic_link(session=session, token=token) == EMAIL
    assert magic_links.peek_magic_link(session=session, token=token) == EMAIL
    assert _links(session)[0].consumed_at is None
    assert magic_links.consume_link_token(session=session, token=token).email == EMAIL
    assert magic_links.peek_magic_link(session=session, token="x" * 300) is None
    assert magic_links.peek_magic_link(session=session, token="") is None


@pytest.mark.parametrize("email", ["", "   ", "not-an-email", "a@b", "ada@@example.com", "ada@exa mple.com"])
def test_invalid_emails_are_refused_with_a_readable_message(session: Session, mailbox: MailCatcher,
                                                            email: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        magic_links.request_magic_link(session=session, email=email, next_path=None, ctx=CTX)
    assert caught.value.field == "email"
    assert "email" in caught.value.message.lower()
    assert "\n" not in caught.value.message and "Traceback" not in caught.value.message
    assert mailbox.messages() == [] and _links(session) == []


def test_link_and_code_helpers_read_the_real_email(session: Session, mailbox: MailCatcher) -> None:
    token, code = request_link(session, mailbox, EMAIL)
    link, token_again, code_again = link_and_code(mailbox.messages()[0])
    assert (token_again, code_again) == (token, code)
    assert link.startswith("http://testserver/auth/verify?token=")
