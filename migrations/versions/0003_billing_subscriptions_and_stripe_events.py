"""billing: subscriptions and stripe events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 11:19:01.236920
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stripeevent',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stripeevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stripeevent_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('subscription',
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('stripe_subscription_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('price_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('plan', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('current_period_end', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('past_due_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('state_at', sa.Integer(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('tenant_id')
    )
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_stripe_subscription_id'), ['stripe_subscription_id'], unique=False)

    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan_grace_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('stripe_customer_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_tenant_stripe_customer_id', ['stripe_customer_id'])



def downgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.drop_constraint('uq_tenant_stripe_customer_id', type_='unique')
        batch_op.drop_column('stripe_customer_id')
        batch_op.drop_column('plan_grace_until')

    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_stripe_subscription_id'))

    op.drop_table('subscription')
    with op.batch_alter_table('stripeevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripeevent_tenant_id'))

    op.drop_table('stripeevent')
