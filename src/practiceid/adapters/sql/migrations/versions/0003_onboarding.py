"""Onboarding records and their live links, terms of use, the outbox (D1, D2).

Revision ID: 0003_onboarding
Revises: 0002_access_and_profiles
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_onboarding"
down_revision = "0002_access_and_profiles"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# Written out, not imported from the schema module: a revision never changes once shipped.
DUE_ONBOARDINGS = "due_at IS NOT NULL"
PENDING_MESSAGES = "status = 'pending'"


def _partial(where: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "practiceid_onboardings",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("establishment_id", sa.String(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invited_by", sa.String(), nullable=True),
        sa.Column("locale", sa.String(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("email_key", sa.String(), nullable=False),
        sa.Column("sends", JSON, nullable=False),
        sa.Column("resume", sa.String(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("terms_version", sa.String(), nullable=True),
        sa.Column("terms_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_change_required", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["practiceid_users.id"], name=op.f("fk_practiceid_onboardings_user_id")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_practiceid_onboardings")),
    )
    op.create_index(
        op.f("ix_practiceid_onboardings_due_at_user_id"),
        "practiceid_onboardings",
        ["due_at", "user_id"],
        unique=False,
        **_partial(DUE_ONBOARDINGS),
    )
    op.create_table(
        "practiceid_onboarding_links",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["practiceid_onboardings.user_id"],
            name=op.f("fk_practiceid_onboarding_links_user_id"),
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_practiceid_onboarding_links")),
    )
    op.create_index(
        op.f("ix_practiceid_onboarding_links_user_id"),
        "practiceid_onboarding_links",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "practiceid_terms",
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_practiceid_terms")),
    )
    op.create_table(
        "practiceid_outbox",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("locale", sa.String(), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("link_round", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practiceid_outbox")),
    )
    op.create_index(
        op.f("ix_practiceid_outbox_idempotency_key"),
        "practiceid_outbox",
        ["idempotency_key"],
        unique=True,
    )
    op.create_index(
        op.f("ix_practiceid_outbox_next_attempt_at_id"),
        "practiceid_outbox",
        ["next_attempt_at", "id"],
        unique=False,
        **_partial(PENDING_MESSAGES),
    )
    op.create_index(
        op.f("ix_practiceid_outbox_user_id"), "practiceid_outbox", ["user_id"], unique=False
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_index(op.f("ix_practiceid_outbox_user_id"), table_name="practiceid_outbox")
    op.drop_index(op.f("ix_practiceid_outbox_next_attempt_at_id"), table_name="practiceid_outbox")
    op.drop_index(op.f("ix_practiceid_outbox_idempotency_key"), table_name="practiceid_outbox")
    op.drop_table("practiceid_outbox")
    op.drop_table("practiceid_terms")
    op.drop_index(
        op.f("ix_practiceid_onboarding_links_user_id"), table_name="practiceid_onboarding_links"
    )
    op.drop_table("practiceid_onboarding_links")
    op.drop_index(
        op.f("ix_practiceid_onboardings_due_at_user_id"), table_name="practiceid_onboardings"
    )
    op.drop_table("practiceid_onboardings")
