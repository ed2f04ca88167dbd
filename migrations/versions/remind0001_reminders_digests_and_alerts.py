"""Reminders to invitees, the organiser digest and event alerts (each once), reminder days per event and series

Revision ID: remind0001
Revises: series0001
Create Date: 2026-12-01 22:14:10.732839

"""
from alembic import op
import sqlalchemy as sa

import planner.models  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = 'remind0001'
down_revision = 'series0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('digest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('covers_until', planner.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('mail_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['mail_id'], ['outgoing_mail.id'], name=op.f('fk_digest_mail_id_outgoing_mail')),
    sa.ForeignKeyConstraint(['organiser_id'], ['organiser.id'], name=op.f('fk_digest_organiser_id_organiser')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest')),
    sa.UniqueConstraint('organiser_id', 'kind', 'key', name=op.f('uq_digest_organiser_id'))
    )
    with op.batch_alter_table('digest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_organiser_id'), ['organiser_id'], unique=False)

    op.create_table('event_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('queued_at', planner.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('mail_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_event_alert_event_id_event')),
    sa.ForeignKeyConstraint(['mail_id'], ['outgoing_mail.id'], name=op.f('fk_event_alert_mail_id_outgoing_mail')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_alert')),
    sa.UniqueConstraint('event_id', 'kind', name=op.f('uq_event_alert_event_id'))
    )
    with op.batch_alter_table('event_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_alert_event_id'), ['event_id'], unique=False)

    op.create_table('reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('queued_at', planner.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('mail_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], name=op.f('fk_reminder_invitation_id_invitation')),
    sa.ForeignKeyConstraint(['mail_id'], ['outgoing_mail.id'], name=op.f('fk_reminder_mail_id_outgoing_mail')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder')),
    sa.UniqueConstraint('invitation_id', 'kind', name=op.f('uq_reminder_invitation_id'))
    )
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_invitation_id'), ['invitation_id'], unique=False)

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_days', sa.Integer(), server_default='2', nullable=False))

    with op.batch_alter_table('organiser', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sa.String(length=20), server_default='daily', nullable=False))
        batch_op.add_column(sa.Column('digest_since', planner.models.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_days', sa.Integer(), server_default='2', nullable=False))



def downgrade():
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_column('reminder_days')

    with op.batch_alter_table('organiser', schema=None) as batch_op:
        batch_op.drop_column('digest_since')
        batch_op.drop_column('digest')

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('reminder_days')

    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_invitation_id'))

    op.drop_table('reminder')
    with op.batch_alter_table('event_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_alert_event_id'))

    op.drop_table('event_alert')
    with op.batch_alter_table('digest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_organiser_id'))

    op.drop_table('digest')
