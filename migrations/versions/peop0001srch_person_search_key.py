"""person.search_key: name and email folded for accent- and case-insensitive search

Revision ID: peop0001srch
Revises: mail0001aaaa
Create Date: 2026-11-27 09:00:00

"""
from alembic import op
import sqlalchemy as sa

from planner.directory import search_key


# revision identifiers, used by Alembic.
revision = 'peop0001srch'
down_revision = 'mail0001aaaa'
branch_labels = None
depends_on = None

person = sa.table('person', sa.column('id', sa.Integer), sa.column('name', sa.String), sa.column('email', sa.String),
                  sa.column('search_key', sa.Text))


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_key', sa.Text(), nullable=False, server_default=''))
    connection = op.get_bind()
    for row in connection.execute(sa.select(person.c.id, person.c.name, person.c.email)).all():
        connection.execute(
            person.update().where(person.c.id == row.id).values(search_key=search_key(row.name, row.email))
        )
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.alter_column('search_key', server_default=None)


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('search_key')
