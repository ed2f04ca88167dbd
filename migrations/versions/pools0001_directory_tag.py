"""The directory tag: one row that triggers on person retag whenever a change a proposal's pool reads is made

Revision ID: pools0001
Revises: indexes0001
Create Date: 2026-12-04 02:00:00

"""
import sqlalchemy as sa
from alembic import op

from planner.models.directory_tag import FIRST_TAG, TRIGGERS

# revision identifiers, used by Alembic.
revision = 'pools0001'
down_revision = 'indexes0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'directory_tag',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tag', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_tag')),
    )
    dialect = op.get_bind().dialect.name
    for statement in [FIRST_TAG[dialect], *TRIGGERS[dialect]]:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER directory_retag_update ON person')
        op.execute('DROP TRIGGER directory_retag_insert_delete ON person')
        op.execute('DROP FUNCTION directory_retag()')
    else:
        for name in ('directory_retag_update', 'directory_retag_delete', 'directory_retag_insert'):
            op.execute(f'DROP TRIGGER {name}')
    op.drop_table('directory_tag')
