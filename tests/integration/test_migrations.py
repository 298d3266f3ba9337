"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

pytestmark = pytest.mark.db


def test_migrations_match_the_models(migrated_db: sa.Engine) -> None:
    with migrated_db.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == [], (
        "models and migrations differ; run `alembic revision --autogenerate -m ...` and review it:\n"
        + "\n".join(str(d) for d in diff)
    )


def test_every_model_table_exists(migrated_db: sa.Engine) -> None:
    existing = set(sa.inspect(migrated_db).get_table_names())
    missing = sorted(t.name for t in SQLModel.metadata.sorted_tables if t.name not in existing)
    assert missing == [], f"tables without a migration: {missing}"
