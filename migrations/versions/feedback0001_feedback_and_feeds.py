"""Feedback after events, first meetings, calendar feeds

Revision ID: feedback0001
Revises: remind0001
Create Date: 2026-12-01 22:20:00

"""
from alembic import op
import sqlalchemy as sa

import planner.models  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = 'feedback0001'
down_revision = 'remind0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('has_feedback', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table('feedback_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('queued_at', planner.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('invitation_id', 'kind')
    )
    with op.batch_alter_table('feedback_mail', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_mail_invitation_id'), ['invitation_id'], unique=False)
    op.create_table('feedback_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('answered_at', planner.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('invitation_id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('first_meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('met_person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], ),
    sa.ForeignKeyConstraint(['met_person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'person_id', 'met_person_id')
    )
    with op.batch_alter_table('first_meeting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_first_meeting_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_first_meeting_person_id'), ['person_id'], unique=False)
    op.create_table('calendar_feed',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('token_seed', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', planner.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organiser_id'], ['organiser.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organiser_id'),
    sa.UniqueConstraint('person_id'),
    sa.UniqueConstraint('token_hash')
    )


def downgrade():
    op.drop_table('calendar_feed')
    with op.batch_alter_table('first_meeting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_first_meeting_person_id'))
        batch_op.drop_index(batch_op.f('ix_first_meeting_event_id'))
    op.drop_table('first_meeting')
    op.drop_table('feedback_answer')
    with op.batch_alter_table('feedback_mail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_mail_invitation_id'))
    op.drop_table('feedback_mail')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('has_feedback')
