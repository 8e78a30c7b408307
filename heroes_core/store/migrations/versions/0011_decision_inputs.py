"""decision inputs: each organisation's decision policy, the licence seats of a publication

Revision ID: 0011
Revises: 0010

``decision_policies`` holds what an organisation's managers fix for its workflows (all of them,
``*``, or one by name): the platforms they may use, the default strategy and weights, a default
energy cap, and whether users may change them (``heroes_core.decision.policy``);
``catalogue_publications.licence_seats`` how many runs of a version one workflow may hold at once
under its licence (the placement's licence limit).
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'decision_policies',
        sa.Column('organisation', sa.String(length=64), primary_key=True),
        sa.Column('workflow', sa.String(length=64), primary_key=True),
        sa.Column('allowed_platforms', sa.JSON(), nullable=True),
        sa.Column('strategy', sa.String(length=16), nullable=False),
        sa.Column('weights', sa.JSON(), nullable=True),
        sa.Column('energy_cap_kj', sa.Float(), nullable=True),
        sa.Column('users_may_change', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
    )
    with op.batch_alter_table('catalogue_publications') as batch:
        batch.add_column(sa.Column('licence_seats', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('catalogue_publications') as batch:
        batch.drop_column('licence_seats')
    op.drop_table('decision_policies')
