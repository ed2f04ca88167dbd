"""outbox lease: a claim runs out unless the worker renews it

Revision ID: lease0001aaaa
Revises: auth0001sess
Create Date: 2026-11-27 10:00:00.000000

"""
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import planner.models

# revision identifiers, used by Alembic.
revision = 'lease0001aaaa'
down_revision = 'auth0001sess'
branch_labels = None
depends_on = None

#: what a claim lasted before leases (messages being sent during the upgrade keep that much time)
OLD_STALE_CLAIM = timedelta(minutes=15)


def upgrade():
    with op.batch_alter_table('outgoing_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', planner.models.UTCDateTime(timezone=True), nullable=True))

    mail = sa.table(
        'outgoing_mail',
        sa.column('id', sa.Integer()),
        sa.column('state', sa.String()),
        sa.column('claimed_at', planner.models.UTCDateTime(timezone=True)),
        sa.column('lease_until', planner.models.UTCDateTime(timezone=True)),
    )
    connection = op.get_bind()
    claimed = connection.execute(sa.select(mail.c.id, mail.c.claimed_at).where(mail.c.state == 'sending')).all()
    for mail_id, claimed_at in claimed:
        lease_until = (claimed_at or planner.models.utcnow()) + OLD_STALE_CLAIM
        connection.execute(sa.update(mail).where(mail.c.id == mail_id).values(lease_until=lease_until))


def downgrade():
    with op.batch_alter_table('outgoing_mail', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
