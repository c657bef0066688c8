"""What each question was about, for the officials' dashboard: the unit, province or document
it names (`subject`), and for a declined one the topic the documents lack (`topic`).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as table:
        table.add_column(sa.Column("subject", sa.Text, nullable=False, server_default=""))
        table.add_column(sa.Column("topic", sa.Text, nullable=False, server_default=""))
    op.create_index("ix_questions_mode_subject", "questions", ["mode", "subject"])


def downgrade() -> None:
    op.drop_index("ix_questions_mode_subject", "questions")
    with op.batch_alter_table("questions") as table:
        table.drop_column("topic")
        table.drop_column("subject")
