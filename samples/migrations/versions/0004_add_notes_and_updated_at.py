"""add notes and updated_at

Revision ID: 0004
Revises: 0003
Create Date: 2026-04-20 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("documents_header", sa.Column("notes", sa.Text(), nullable=True))
    op.add_column("documents_header", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("documents_header", "updated_at")
    op.drop_column("documents_header", "notes")
