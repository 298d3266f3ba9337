"""Migration 0005_idna: addresses stored with a Unicode domain still sign their owner in."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from shared_helpers import SettingsOverride, alembic_config

from saas_app.db import get_engine
from saas_app.services.auth.magic_links import normalize_email


def test_unicode_domains_become_their_ascii_form(app_settings: SettingsOverride, tmp_path: Path) -> None:
    app_settings.set(DATABASE_URL=f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    command.upgrade(config, "0004")
    rows = {"t1": "qa@bücher.example", "t2": "plain@example.com", "t3": "üser@bücher.example"}
    with get_engine().begin() as conn:
        for n, email in rows.items():
            conn.execute(sa.text("INSERT INTO tenant (id, name, plan, created_at) "
                                 "VALUES (:id, 'w', 'free', '2026-01-01')"), {"id": n})
            conn.execute(sa.text("INSERT INTO user (id, email, tenant_id, role, created_at) "
                                 "VALUES (:id, :email, :id, 'owner', '2026-01-01')"), {"id": n, "email": email})

    command.upgrade(config, "head")

    with get_engine().connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT id, email FROM user")).all())
    assert stored == {"t1": "qa@xn--bcher-kva.example", "t2": "plain@example.com", "t3": "üser@bücher.example"}
    for spelling in ("qa@bücher.example", "QA@xn--bcher-kva.example"):
        assert normalize_email(spelling) == stored["t1"]  # what sign-in looks up finds the old row
    command.downgrade(config, "0004")
    with get_engine().connect() as conn:
        assert dict(conn.execute(sa.text("SELECT id, email FROM user")).all()) == rows
