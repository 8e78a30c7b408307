"""grant claims: the flow run each run grant started

Revision ID: 0005
Revises: 0004

One row per grant nonce (``heroes_core.identity.grant_ledger``): a second flow run presenting the
same grant is refused as a replay.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('grant_claims',
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('flow_run_id', sa.String(length=64), nullable=False),
    sa.Column('deployment', sa.String(length=300), nullable=False),
    sa.Column('organisation', sa.String(length=40), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('nonce')
    )


def downgrade() -> None:
    op.drop_table('grant_claims')
