"""application command: the argv a run of an application starts

Revision ID: 0009
Revises: 0008

``catalogue_applications.command`` (``heroes_core.catalog.command``): a JSON list of arguments with
``{parameter}`` placeholders; applications registered before it have none (not runnable by name).
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('catalogue_applications') as batch:
        batch.add_column(sa.Column('command', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('catalogue_applications') as batch:
        batch.drop_column('command')
