"""The question log and feedback.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("folded", sa.Text, nullable=False),
        sa.Column("mode", sa.String(40), nullable=False),
        sa.Column("refused", sa.Boolean, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("answer_id", sa.String(40), nullable=False),
    )
    op.create_index("ix_questions_at", "questions", ["at"])
    op.create_index("ix_questions_folded", "questions", ["folded"])
    op.create_index("ix_questions_answer_id", "questions", ["answer_id"], unique=True)
    op.create_table(
        "feedback",
        sa.Column("answer_id", sa.String(40), primary_key=True),
        sa.Column("user_hash", sa.String(64), primary_key=True),
        sa.Column("helpful", sa.Boolean, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_feedback_at", "feedback", ["at"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("questions")
