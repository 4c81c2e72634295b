"""Professional profiles, their categories and languages, and the search vector.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:06:45.302706
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import consult.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('professional_profile',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('headline', sa.String(length=140), nullable=False),
    sa.Column('bio', sa.Text(), nullable=False),
    sa.Column('photo_filename', sa.String(length=64), nullable=True),
    sa.Column('updated_at', consult.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('search_vector', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_professional_profile_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_professional_profile'))
    )
    op.create_index('ix_professional_profile_search_vector', 'professional_profile', ['search_vector'], unique=False, postgresql_using='gin')
    op.create_table('profile_category',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['professional_profile.user_id'], name=op.f('fk_profile_category_user_id_professional_profile'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'category', name=op.f('pk_profile_category'))
    )
    op.create_index('ix_profile_category_category', 'profile_category', ['category'], unique=False)
    op.create_table('profile_language',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['professional_profile.user_id'], name=op.f('fk_profile_language_user_id_professional_profile'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'language', name=op.f('pk_profile_language'))
    )
    op.create_index('ix_profile_language_language', 'profile_language', ['language'], unique=False)

    # Professionals who signed up before profiles existed get an empty one, so that
    # they are searchable by name and service titles at once.
    op.execute(
        "INSERT INTO professional_profile (user_id, headline, bio, updated_at) "
        "SELECT id, '', '', CURRENT_TIMESTAMP FROM user_account WHERE is_professional"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            UPDATE professional_profile AS p SET search_vector =
                setweight(to_tsvector('simple', coalesce(u.name, '')), 'A')
                || setweight(to_tsvector('simple', coalesce((
                    SELECT string_agg(s.title, ' ') FROM service AS s
                    WHERE s.professional_id = p.user_id AND s.is_published
                      AND s.deleted_at IS NULL), '')), 'B')
            FROM user_account AS u WHERE u.id = p.user_id
            """
        )


def downgrade() -> None:
    op.drop_index('ix_profile_language_language', table_name='profile_language')
    op.drop_table('profile_language')
    op.drop_index('ix_profile_category_category', table_name='profile_category')
    op.drop_table('profile_category')
    op.drop_index('ix_professional_profile_search_vector', table_name='professional_profile', postgresql_using='gin')
    op.drop_table('professional_profile')
