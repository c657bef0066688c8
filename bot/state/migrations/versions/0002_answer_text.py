"""The answer given, beside each question: what an official reads next to a 👎.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as table:
        table.add_column(sa.Column("answer", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("questions") as table:
        table.drop_column("answer")
