"""A person's erasure time (personal data erased on request)

Revision ID: privacy0001
Revises: admin0001
Create Date: 2026-12-02 01:00:00

"""
import sqlalchemy as sa
from alembic import op

import planner.models  # custom column types

# revision identifiers, used by Alembic.
revision = 'privacy0001'
down_revision = 'admin0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', planner.models.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
