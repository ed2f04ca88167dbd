"""SCIM directory sync: userName, externalId and deletion time of a provisioned person

Revision ID: scim0001
Revises: privacy0001
Create Date: 2026-12-02 00:50:00

"""
import sqlalchemy as sa
from alembic import op

import planner.models  # noqa: F401  (custom column types)

# revision identifiers, used by Alembic.
revision = 'scim0001'
down_revision = 'privacy0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scim_user_name', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('scim_deleted_at', planner.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_person_external_id'), ['external_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_person_scim_user_name'), ['scim_user_name'])
    op.create_index('ix_person_user_name', 'person', [sa.text('lower(coalesce(scim_user_name, email))')], unique=False)


def downgrade():
    op.drop_index('ix_person_user_name', table_name='person')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_person_scim_user_name'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_person_external_id'))
        batch_op.drop_column('scim_deleted_at')
        batch_op.drop_column('external_id')
        batch_op.drop_column('scim_user_name')
