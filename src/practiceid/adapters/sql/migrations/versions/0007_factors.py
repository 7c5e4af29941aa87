"""Personal key pairs (D3) and second factors (F5): key pairs, factors, guards, requirements.

Revision ID: 0007_factors
Revises: 0006_devices
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_factors"
down_revision = "0006_devices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables and their index."""
    op.create_table(
        "practiceid_key_pairs",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("algorithm", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by", sa.String(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["practiceid_users.id"], name=op.f("fk_practiceid_key_pairs_user_id")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_practiceid_key_pairs")),
    )
    op.create_table(
        "practiceid_factors",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("key_id", sa.String(), nullable=True),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("digests", sa.Text(), nullable=False),
        sa.Column("networks", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["practiceid_users.id"], name=op.f("fk_practiceid_factors_user_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practiceid_factors")),
    )
    op.create_index(
        op.f("ix_practiceid_factors_user_id"), "practiceid_factors", ["user_id"], unique=False
    )
    op.create_table(
        "practiceid_factor_guards",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("misses", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["practiceid_users.id"], name=op.f("fk_practiceid_factor_guards_user_id")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_practiceid_factor_guards")),
    )
    op.create_table(
        "practiceid_factor_requirements",
        sa.Column("establishment_id", sa.String(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["practiceid_establishments.id"],
            name=op.f("fk_practiceid_factor_requirements_establishment_id"),
        ),
        sa.PrimaryKeyConstraint("establishment_id", name=op.f("pk_practiceid_factor_requirements")),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("practiceid_factor_requirements")
    op.drop_table("practiceid_factor_guards")
    op.drop_index(op.f("ix_practiceid_factors_user_id"), table_name="practiceid_factors")
    op.drop_table("practiceid_factors")
    op.drop_table("practiceid_key_pairs")
