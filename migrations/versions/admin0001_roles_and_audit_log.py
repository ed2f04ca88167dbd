"""Organiser roles (the first organiser becomes an admin) and the audit log

Revision ID: admin0001
Revises: jobs0001
Create Date: 2026-12-02 01:00:00

"""
import sqlalchemy as sa
from alembic import op

import planner.models  # noqa: F401  (custom column types)

# revision identifiers, used by Alembic.
revision = 'admin0001'
down_revision = 'jobs0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organiser', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=20), server_default='organiser', nullable=False))
    op.execute("UPDATE organiser SET role = 'admin' WHERE id = (SELECT min(id) FROM organiser)")
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', planner.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('subject_type', sa.String(length=40), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['organiser_id'], ['organiser.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_organiser_id'), ['organiser_id'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_organiser_id'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_at'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_action'))
    op.drop_table('audit_entry')
    with op.batch_alter_table('organiser', schema=None) as batch_op:
        batch_op.drop_column('role')
