"""The audit trail (F3): sealed records, one hash chain per establishment, and their heads.

Revision ID: 0005_audit
Revises: 0004_licenses
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_audit"
down_revision = "0004_licenses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables and their index."""
    op.create_table(
        "practiceid_audit_records",
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("establishment_id", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=True),
        sa.Column("account_id", sa.String(), nullable=True),
        sa.Column("device_session_id", sa.String(), nullable=True),
        sa.Column("on_behalf_of", sa.String(), nullable=True),
        sa.Column("target_type", sa.String(), nullable=False),
        sa.Column("target_id", sa.String(), nullable=False),
        sa.Column("peer_address", sa.String(), nullable=True),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("previous", sa.LargeBinary(length=32), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("chain", "seq", name=op.f("pk_practiceid_audit_records")),
    )
    op.create_index(
        op.f("ix_practiceid_audit_records_chain_actor_seq"),
        "practiceid_audit_records",
        ["chain", "actor", "seq"],
        unique=False,
    )
    op.create_table(
        "practiceid_audit_heads",
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_practiceid_audit_heads")),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("practiceid_audit_heads")
    op.drop_index(
        op.f("ix_practiceid_audit_records_chain_actor_seq"), table_name="practiceid_audit_records"
    )
    op.drop_table("practiceid_audit_records")
