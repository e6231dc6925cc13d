"""add status and an index on created_at

Revision ID: 0002
Revises: 0001
Create Date: 2026-02-10 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "documents_header", sa.Column("status", sa.Text(), nullable=False, server_default=sa.text("'draft'"))
    )
    op.create_index("ix_documents_header_created_at", "documents_header", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_documents_header_created_at", table_name="documents_header")
    op.drop_column("documents_header", "status")
