"""data transfers: every transfer between two endpoints, succeeded or failed

Revision ID: 0007
Revises: 0006

One row per transfer (``heroes_core.data.transfer_log``): who asked, what moved, from where to
where, how many bytes and files, how long it took and how it ended.
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_transfers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('organisation', sa.String(length=64), nullable=False),
    sa.Column('project', sa.String(length=64), nullable=True),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('job_key', sa.String(length=100), nullable=True),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.Column('what', sa.String(length=500), nullable=False),
    sa.Column('source_site', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('destination_site', sa.String(length=100), nullable=False),
    sa.Column('destination', sa.String(length=1000), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('files_checked', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('data_transfers', schema=None) as batch_op:
        batch_op.create_index('ix_data_transfers_organisation_started',
                              ['organisation', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_transfers_job_key'), ['job_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('data_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_transfers_job_key'))
        batch_op.drop_index('ix_data_transfers_organisation_started')

    op.drop_table('data_transfers')
