"""renders: format, captions and music options

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 21:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing renders were 16:9 without captions or music: "{}" reads as exactly that.
    with op.batch_alter_table('render', schema=None) as batch_op:
        batch_op.add_column(sa.Column('options_json', sa.Text(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('render', schema=None) as batch_op:
        batch_op.drop_column('options_json')
