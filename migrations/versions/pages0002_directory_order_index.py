"""An index in the people list's order (department, most senior first, name): a page reads its rows without a sort

Revision ID: pages0002
Revises: pools0001
Create Date: 2026-12-04 02:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'pages0002'
down_revision = 'pools0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_person_directory', 'person', ['department', sa.text('level DESC'), 'name', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_person_directory', table_name='person')
