"""Shared clinic devices (F1-F4): clinic logins, members' PINs, device sessions, PIN guards.

And the kind of each account (``person``, or ``clinic`` for a clinic login): the accounts
stored before this revision are people's.

Revision ID: 0006_devices
Revises: 0005_audit
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_devices"
down_revision = "0005_audit"
branch_labels = None
depends_on = None

# Written out, not imported from the schema module: a revision never changes once shipped.
OPEN_SESSIONS = "state <> 'closed'"


def _partial(where: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


def upgrade() -> None:
    """Add the users' kind; create the tables and their indexes."""
    # SQLite adds a NOT NULL column with a default in place: no batch copy of the table.
    op.add_column(
        "practiceid_users",
        sa.Column("kind", sa.String(), nullable=False, server_default="person"),
    )
    op.create_table(
        "practiceid_clinic_logins",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("establishment_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("remote_access", sa.Boolean(), nullable=False),
        sa.Column("networks", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["practiceid_establishments.id"],
            name=op.f("fk_practiceid_clinic_logins_establishment_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["practiceid_users.id"], name=op.f("fk_practiceid_clinic_logins_user_id")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_practiceid_clinic_logins")),
    )
    op.create_index(
        op.f("ix_practiceid_clinic_logins_establishment_id"),
        "practiceid_clinic_logins",
        ["establishment_id"],
        unique=False,
    )
    op.create_table(
        "practiceid_member_credentials",
        sa.Column("establishment_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("pin_digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("pin_key_id", sa.String(), nullable=False),
        sa.Column("pin_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("misses", sa.Integer(), nullable=False),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remote_access", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["practiceid_establishments.id"],
            name=op.f("fk_practiceid_member_credentials_establishment_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["practiceid_users.id"],
            name=op.f("fk_practiceid_member_credentials_user_id"),
        ),
        sa.PrimaryKeyConstraint(
            "establishment_id", "user_id", name=op.f("pk_practiceid_member_credentials")
        ),
    )
    op.create_index(
        op.f("ix_practiceid_member_credentials_establishment_id_pin_digest"),
        "practiceid_member_credentials",
        ["establishment_id", "pin_digest"],
        unique=True,
    )
    op.create_index(
        op.f("ix_practiceid_member_credentials_user_id"),
        "practiceid_member_credentials",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "practiceid_device_sessions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("establishment_id", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("token_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("member", sa.String(), nullable=True),
        sa.Column("unlocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("misses", sa.Integer(), nullable=False),
        sa.Column("remote", sa.Boolean(), nullable=False),
        sa.Column("peer_address", sa.String(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["practiceid_users.id"],
            name=op.f("fk_practiceid_device_sessions_account_id"),
        ),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["practiceid_establishments.id"],
            name=op.f("fk_practiceid_device_sessions_establishment_id"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practiceid_device_sessions")),
    )
    op.create_index(
        op.f("ix_practiceid_device_sessions_token_digest"),
        "practiceid_device_sessions",
        ["token_digest"],
        unique=True,
    )
    op.create_index(
        op.f("ix_practiceid_device_sessions_establishment_id"),
        "practiceid_device_sessions",
        ["establishment_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_practiceid_device_sessions_establishment_id_id"),
        "practiceid_device_sessions",
        ["establishment_id", "id"],
        unique=False,
        **_partial(OPEN_SESSIONS),
    )
    op.create_table(
        "practiceid_pin_guards",
        sa.Column("establishment_id", sa.String(), nullable=False),
        sa.Column("misses", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["practiceid_establishments.id"],
            name=op.f("fk_practiceid_pin_guards_establishment_id"),
        ),
        sa.PrimaryKeyConstraint("establishment_id", name=op.f("pk_practiceid_pin_guards")),
    )


def downgrade() -> None:
    """Drop them, and the users' kind."""
    op.drop_table("practiceid_pin_guards")
    op.drop_index(
        op.f("ix_practiceid_device_sessions_establishment_id_id"),
        table_name="practiceid_device_sessions",
    )
    op.drop_index(
        op.f("ix_practiceid_device_sessions_establishment_id"),
        table_name="practiceid_device_sessions",
    )
    op.drop_index(
        op.f("ix_practiceid_device_sessions_token_digest"), table_name="practiceid_device_sessions"
    )
    op.drop_table("practiceid_device_sessions")
    op.drop_index(
        op.f("ix_practiceid_member_credentials_user_id"),
        table_name="practiceid_member_credentials",
    )
    op.drop_index(
        op.f("ix_practiceid_member_credentials_establishment_id_pin_digest"),
        table_name="practiceid_member_credentials",
    )
    op.drop_table("practiceid_member_credentials")
    op.drop_index(
        op.f("ix_practiceid_clinic_logins_establishment_id"), table_name="practiceid_clinic_logins"
    )
    op.drop_table("practiceid_clinic_logins")
    # SQLite (3.35 and later) drops a column that nothing indexes or references in place.
    op.drop_column("practiceid_users", "kind")
