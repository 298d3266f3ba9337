"""Open tabs are told after the commit, once per person, when their access changes (sessions ended included)."""

from __future__ import annotations

import pytest
from factories import CTX
from sqlmodel import Session
from team_flows import signed_in

from saas_app.services.auth import sessions as auth_sessions
from saas_app.services.teams.access_changes import get_access_changes, note_after_commit

pytestmark = pytest.mark.db


def test_notes_go_out_after_the_commit_once_per_person(session: Session) -> None:
    note_after_commit(session=session, user_ids=["u1", "u2"])
    note_after_commit(session=session, user_ids=["u1"])
    assert (get_access_changes("u1"), get_access_changes("u2")) == (0, 0)  # nothing before the commit
    session.commit()
    assert (get_access_changes("u1"), get_access_changes("u2")) == (1, 1)
    session.commit()  # a later commit tells nobody again
    assert get_access_changes("u1") == 1


def test_a_rolled_back_change_tells_nobody(session: Session) -> None:
    note_after_commit(session=session, user_ids=["u1"])
    session.rollback()
    assert get_access_changes("u1") == 0


def test_ending_a_session_tells_its_persons_open_tabs(session: Session) -> None:
    person = signed_in(session, "ada@example.com")
    before = get_access_changes(person.user_id)
    auth_sessions.logout_session(session=session, principal=person, ctx=CTX)
    session.commit()
    assert get_access_changes(person.user_id) == (before or 0) + 1
