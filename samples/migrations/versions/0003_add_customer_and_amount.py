"""add customer and amount

Revision ID: 0003
Revises: 0002
Create Date: 2026-03-16 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("documents_header", sa.Column("customer_id", sa.Text(), nullable=True))
    op.add_column(
        "documents_header",
        sa.Column("amount", sa.Numeric(12, 2), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    op.drop_column("documents_header", "amount")
    op.drop_column("documents_header", "customer_id")
