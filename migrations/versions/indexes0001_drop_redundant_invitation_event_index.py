"""Drop ix_invitation_event_id: the unique (event_id, person_id) and ix_invitation_seats both lead with event_id

An answer's update adds an entry to every index of the table on PostgreSQL (the seats index holds the answer, so the
update cannot stay heap-only): a redundant index costs every answer, and a lookup by event reads either of the others.

Revision ID: indexes0001
Revises: seats0001
Create Date: 2026-12-03 19:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'indexes0001'
down_revision = 'seats0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_invitation_event_id')


def downgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.create_index('ix_invitation_event_id', ['event_id'], unique=False)
