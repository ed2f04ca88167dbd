"""Series and their rounds, the attendance of each event

Revision ID: series0001
Revises: lease0001aaaa
Create Date: 2026-12-01 21:27:34.404573

"""
from alembic import op
import sqlalchemy as sa

import planner.models  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = 'series0001'
down_revision = 'lease0001aaaa'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('rrule', sa.String(length=255), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('deadline_hours', sa.Integer(), nullable=False),
    sa.Column('plan_days_ahead', sa.Integer(), nullable=False),
    sa.Column('send_mode', sa.String(length=20), nullable=False),
    sa.Column('planning_mode', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('created_at', planner.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', planner.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organiser_id'], ['organiser.id'], name=op.f('fk_series_organiser_id_organiser')),
    sa.ForeignKeyConstraint(['previous_id'], ['series.id'], name=op.f('fk_series_previous_id_series')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_series'))
    )
    op.create_table('series_skip',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('occurrence_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], name=op.f('fk_series_skip_series_id_series')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_series_skip')),
    sa.UniqueConstraint('series_id', 'occurrence_on', name=op.f('uq_series_skip_series_id'))
    )
    with op.batch_alter_table('series_skip', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_series_skip_series_id'), ['series_id'], unique=False)

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planning_mode', sa.String(length=20), nullable=False, server_default='fair'))
        batch_op.add_column(sa.Column('series_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('occurrence_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('attendance_recorded_at', planner.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_event_series_id'), ['series_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_event_series_id'), ['series_id', 'occurrence_on'])
        batch_op.create_foreign_key(batch_op.f('fk_event_series_id_series'), 'series', ['series_id'], ['id'])

    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_no_show', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_column('is_no_show')

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_event_series_id_series'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_event_series_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_event_series_id'))
        batch_op.drop_column('attendance_recorded_at')
        batch_op.drop_column('occurrence_on')
        batch_op.drop_column('series_id')
        batch_op.drop_column('planning_mode')

    with op.batch_alter_table('series_skip', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_series_skip_series_id'))

    op.drop_table('series_skip')
    op.drop_table('series')
