"""invitation token seed: follow-up mail rebuilds the RSVP link and reply address from it

Revision ID: mail0001aaaa
Revises: b01df47e7a75
Create Date: 2026-11-27 09:00:00

Invitations sent before this revision keep no seed (NULL): their next follow-up mail gives them
fresh tokens, and from then on a seed.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'mail0001aaaa'
down_revision = 'b01df47e7a75'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_seed', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_column('token_seed')
