"""An index the seat count reads on its own: an event's answers, offers and withdrawals

Revision ID: seats0001
Revises: pages0001
Create Date: 2026-12-03 10:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'seats0001'
down_revision = 'pages0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.create_index('ix_invitation_seats', ['event_id', 'answer', 'offer_expires_at', 'cancelled_at'], unique=False)


def downgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_invitation_seats')
