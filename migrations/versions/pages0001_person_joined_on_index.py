"""An index on people's start dates: a proposal reads only the newcomers' instead of scanning the directory

Revision ID: pages0001
Revises: speed0001
Create Date: 2026-12-02 06:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'pages0001'
down_revision = 'speed0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_joined_on', ['joined_on'], unique=False)


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index('ix_person_joined_on')
