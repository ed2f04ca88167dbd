"""automatic backfill: the per event and per series setting, offer hours, and the offer's expiry on the invitation

Revision ID: offers0001
Revises: feedback0001
Create Date: 2026-12-01 22:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'offers0001'
down_revision = 'feedback0001'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('event', 'series'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('is_auto_backfill', sa.Boolean(), server_default=sa.false(), nullable=False))
            batch_op.add_column(sa.Column('offer_hours', sa.Integer(), nullable=True))
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_column('offer_expires_at')
    for table in ('series', 'event'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('offer_hours')
            batch_op.drop_column('is_auto_backfill')
