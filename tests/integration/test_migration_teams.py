"""Migration 0009 (teams): every existing user becomes a member of their workspace with their role,
and the way back gives each person their most recent workspace again. Runs on the run's own database
(SQLite in the SQLite pass, PostgreSQL in the PostgreSQL pass)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from shared_helpers import alembic_config

pytestmark = pytest.mark.db

_TENANT = sa.text("INSERT INTO tenant (id, name, plan, created_at) VALUES (:id, :id, 'free', :at)")
_USER = sa.text('INSERT INTO "user" (id, email, tenant_id, role, created_at, last_login_at) '
                "VALUES (:id, :email, :tenant, :role, :at, :login)")


@pytest.fixture
def at_0008(migrated_db: sa.Engine) -> Iterator[sa.Engine]:
    """The database taken back to the schema before teams; migrated to head again afterwards."""
    command.downgrade(alembic_config(), "0008")
    try:
        yield migrated_db
    finally:
        with migrated_db.begin() as conn:  # leave no rows behind for the tests that follow
            for table in ("membership", "user", "tenant"):
                if sa.inspect(conn).has_table(table):
                    conn.execute(sa.text(f'DELETE FROM "{table}"'))
        command.upgrade(alembic_config(), "head")


def test_users_become_members_of_their_workspace_and_back(at_0008: sa.Engine) -> None:
    with at_0008.begin() as conn:
        for tenant in ("ta", "tb"):
            conn.execute(_TENANT, {"id": tenant, "at": "2026-01-01 00:00:00"})
        conn.execute(_USER, {"id": "u1", "email": "ada@example.com", "tenant": "ta", "role": "owner",
                             "at": "2026-01-02 00:00:00", "login": "2026-02-01 00:00:00"})
        conn.execute(_USER, {"id": "u2", "email": "bo@example.com", "tenant": "tb", "role": "owner",
                             "at": "2026-01-03 00:00:00", "login": None})

    command.upgrade(alembic_config(), "head")
    with at_0008.connect() as conn:
        rows = conn.execute(sa.text("SELECT user_id, tenant_id, role FROM membership ORDER BY user_id")).all()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("user")}
    assert [tuple(r) for r in rows] == [("u1", "ta", "owner"), ("u2", "tb", "owner")]
    assert "tenant_id" not in columns and "role" not in columns

    with at_0008.begin() as conn:  # a person who joined a second workspace, and was active there last
        conn.execute(sa.text("INSERT INTO membership (tenant_id, user_id, role, created_at, last_active_at) "
                             "VALUES ('tb', 'u1', 'admin', '2026-03-01 00:00:00', '2026-03-02 00:00:00')"))
    command.downgrade(alembic_config(), "0008")
    with at_0008.connect() as conn:
        back = conn.execute(sa.text('SELECT id, tenant_id, role FROM "user" ORDER BY id')).all()
    assert [tuple(r) for r in back] == [("u1", "tb", "admin"), ("u2", "tb", "owner")]
