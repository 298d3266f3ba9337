"""billing: the last state of each Stripe subscription and invoice (webhook ordering)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 21:40:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stripeobjectstate',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('object', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('subscription_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('state_at', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stripeobjectstate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stripeobjectstate_subscription_id'), ['subscription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stripeobjectstate_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stripeobjectstate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripeobjectstate_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_stripeobjectstate_subscription_id'))

    op.drop_table('stripeobjectstate')
