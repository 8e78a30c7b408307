"""tracked jobs: the HEROES jobs the site monitor follows, their last state seen and announced

Revision ID: 0012
Revises: 0011

``tracked_jobs`` holds one row per job key (``heroes_core.monitor``): the site and scheduler
job id, the flow run waiting for it, the owning organisation, the last state seen with its
reason, exit code and elapsed time, how many changes were seen, the last state announced as a
``heroes.job.*`` event, and when the job was submitted, last changed and last polled.
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'tracked_jobs',
        sa.Column('key', sa.String(length=100), primary_key=True),
        sa.Column('site', sa.String(length=128), nullable=False),
        sa.Column('job_id', sa.String(length=64), nullable=False),
        sa.Column('flow_run_id', sa.String(length=64), nullable=True),
        sa.Column('organisation', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('exit_code', sa.Integer(), nullable=True),
        sa.Column('elapsed_s', sa.Float(), nullable=True),
        sa.Column('changes', sa.Integer(), nullable=False),
        sa.Column('announced_state', sa.String(length=16), nullable=True),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('polled_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_tracked_jobs_site', 'tracked_jobs', ['site'])


def downgrade() -> None:
    op.drop_index('ix_tracked_jobs_site', table_name='tracked_jobs')
    op.drop_table('tracked_jobs')
