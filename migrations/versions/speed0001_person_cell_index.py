"""A covering index for the proposal's head count per department and level, and an index on people's names

Revision ID: speed0001
Revises: owners0001
Create Date: 2026-12-02 00:50:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'speed0001'
down_revision = 'owners0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_cell', ['department', 'level', 'is_active', 'is_opted_out', 'on_leave_until'],
                              unique=False)
        batch_op.create_index('ix_person_name', ['name'], unique=False)


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index('ix_person_name')
        batch_op.drop_index('ix_person_cell')
