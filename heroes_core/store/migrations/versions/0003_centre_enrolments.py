"""centre enrolments

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('centre_enrolments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('centre', sa.String(length=100), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('runtime_version', sa.String(length=64), nullable=True),
    sa.Column('last_compliance_ok', sa.Boolean(), nullable=True),
    sa.Column('last_compliance_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_compliance_failures', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('centre')
    )


def downgrade() -> None:
    op.drop_table('centre_enrolments')
