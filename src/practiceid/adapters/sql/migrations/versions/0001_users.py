"""Users: logins and e-mail addresses unique by key (A1, A2).

Revision ID: 0001_users
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_users"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "practiceid_users",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("login", sa.String(), nullable=False),
        sa.Column("login_key", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("email_key", sa.String(), nullable=False),
        sa.Column("first_name", sa.String(), nullable=False),
        sa.Column("last_name", sa.String(), nullable=False),
        sa.Column("job_title", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practiceid_users")),
    )
    op.create_index(
        op.f("ix_practiceid_users_email_key"), "practiceid_users", ["email_key"], unique=True
    )
    op.create_index(
        op.f("ix_practiceid_users_login_key"), "practiceid_users", ["login_key"], unique=True
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_index(op.f("ix_practiceid_users_login_key"), table_name="practiceid_users")
    op.drop_index(op.f("ix_practiceid_users_email_key"), table_name="practiceid_users")
    op.drop_table("practiceid_users")
