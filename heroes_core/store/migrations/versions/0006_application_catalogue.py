"""application catalogue: applications, immutable versions, tags, publications, audit

Revision ID: 0006
Revises: 0005

Tables of ``heroes_core.catalog.schema``: an application's versions are archived images named
by digest (unique per application, as are version strings and tags); a publication's target
is kept as one string so each is held once per version.
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalogue_applications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('organisation', sa.String(length=40), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('parameter_schema', sa.JSON(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', name='uq_catalogue_applications_name')
    )
    op.create_index(op.f('ix_catalogue_applications_organisation'), 'catalogue_applications',
                    ['organisation'], unique=False)
    op.create_table('catalogue_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=71), nullable=False),
    sa.Column('archive_key', sa.String(length=1024), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('parameter_schema', sa.JSON(), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_by', sa.String(length=64), nullable=False),
    sa.Column('tested_digest_ok', sa.Boolean(), nullable=False),
    sa.Column('tested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tested_flow_run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['catalogue_applications.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'digest', name='uq_catalogue_versions_digest'),
    sa.UniqueConstraint('application_id', 'version', name='uq_catalogue_versions_version')
    )
    op.create_table('catalogue_tags',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['catalogue_applications.id']),
    sa.ForeignKeyConstraint(['version_id'], ['catalogue_versions.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'tag', name='uq_catalogue_tags_tag')
    )
    op.create_index(op.f('ix_catalogue_tags_version_id'), 'catalogue_tags', ['version_id'], unique=False)
    op.create_table('catalogue_publications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=120), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('organisation', sa.String(length=40), nullable=True),
    sa.Column('project', sa.String(length=64), nullable=True),
    sa.Column('licence_terms', sa.Text(), nullable=False),
    sa.Column('price_offering', sa.String(length=200), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['catalogue_versions.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version_id', 'target', name='uq_catalogue_publications_target')
    )
    op.create_index(op.f('ix_catalogue_publications_organisation'), 'catalogue_publications',
                    ['organisation'], unique=False)
    op.create_table('catalogue_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['catalogue_applications.id']),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_catalogue_events_application_id'), 'catalogue_events', ['application_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_catalogue_events_application_id'), table_name='catalogue_events')
    op.drop_table('catalogue_events')
    op.drop_index(op.f('ix_catalogue_publications_organisation'), table_name='catalogue_publications')
    op.drop_table('catalogue_publications')
    op.drop_index(op.f('ix_catalogue_tags_version_id'), table_name='catalogue_tags')
    op.drop_table('catalogue_tags')
    op.drop_table('catalogue_versions')
    op.drop_index(op.f('ix_catalogue_applications_organisation'), table_name='catalogue_applications')
    op.drop_table('catalogue_applications')
