"""accounting and energy: every job's record joined with its context, enrolment facts, EAR policies

Revision ID: 0010
Revises: 0009

``job_records`` gains the HEROES context it lacked (project, workflow step, application version,
the scheduler's job id) and more of the scheduler's accounting (CPU time, exit code) and the EAR
policy the job ran under (``heroes_core.decision.metadata``); ``centre_enrolments.facts`` keeps
what the runtime found on a centre (EAR among them); ``energy_policies`` holds each
organisation's EAR policy rule (``heroes_core.energy.policy``).
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_JOB_COLUMNS = (
    ('project', sa.String(length=64)), ('step', sa.String(length=64)),
    ('application_version', sa.String(length=64)), ('scheduler_job_id', sa.String(length=32)),
    ('cpu_time_s', sa.Float()), ('exit_code', sa.Integer()), ('energy_policy', sa.String(length=32)),
)


def upgrade() -> None:
    with op.batch_alter_table('job_records') as batch:
        for name, kind in _JOB_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    with op.batch_alter_table('centre_enrolments') as batch:
        batch.add_column(sa.Column('facts', sa.JSON(), nullable=False, server_default='{}'))
    op.create_table(
        'energy_policies',
        sa.Column('organisation', sa.String(length=64), primary_key=True),
        sa.Column('default_policy', sa.String(length=32), nullable=True),
        sa.Column('users_may_choose', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('energy_policies')
    with op.batch_alter_table('centre_enrolments') as batch:
        batch.drop_column('facts')
    with op.batch_alter_table('job_records') as batch:
        for name, _kind in reversed(_JOB_COLUMNS):
            batch.drop_column(name)
