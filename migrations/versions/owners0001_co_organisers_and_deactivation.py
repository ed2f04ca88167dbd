"""Co-organisers of events and series, and deactivated organisers

Revision ID: owners0001
Revises: scim0001
Create Date: 2026-12-02 01:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'owners0001'
down_revision = 'scim0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organiser', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False))
    for table, parent in (('event_co_organiser', 'event'), ('series_co_organiser', 'series')):
        op.create_table(table,
        sa.Column(f'{parent}_id', sa.Integer(), nullable=False),
        sa.Column('organiser_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint([f'{parent}_id'], [f'{parent}.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organiser_id'], ['organiser.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint(f'{parent}_id', 'organiser_id')
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_organiser_id'), ['organiser_id'], unique=False)


def downgrade():
    for table in ('series_co_organiser', 'event_co_organiser'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_organiser_id'))
        op.drop_table(table)
    with op.batch_alter_table('organiser', schema=None) as batch_op:
        batch_op.drop_column('is_active')
