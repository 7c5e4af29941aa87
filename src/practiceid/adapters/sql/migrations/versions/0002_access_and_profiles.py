"""Organisations, establishments, memberships, practitioners and establishment profiles.

Revision ID: 0002_access_and_profiles
Revises: 0001_users
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_access_and_profiles"
down_revision = "0001_users"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "practiceid_organisations",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practiceid_organisations")),
    )
    op.create_table(
        "practiceid_establishments",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("organisation_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("product", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("departments", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["practiceid_organisations.id"],
            name=op.f("fk_practiceid_establishments_organisation_id"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practiceid_establishments")),
    )
    op.create_index(
        op.f("ix_practiceid_establishments_organisation_id"),
        "practiceid_establishments",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "practiceid_organisation_owners",
        sa.Column("organisation_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["practiceid_organisations.id"],
            name=op.f("fk_practiceid_organisation_owners_organisation_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["practiceid_users.id"],
            name=op.f("fk_practiceid_organisation_owners_user_id"),
        ),
        sa.PrimaryKeyConstraint(
            "organisation_id", "user_id", name=op.f("pk_practiceid_organisation_owners")
        ),
    )
    op.create_index(
        op.f("ix_practiceid_organisation_owners_user_id"),
        "practiceid_organisation_owners",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "practiceid_practitioners",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("profession", sa.String(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inami", sa.String(), nullable=True),
        sa.Column("niss", sa.String(), nullable=True),
        sa.Column("rpps", sa.String(), nullable=True),
        sa.Column("adeli", sa.String(), nullable=True),
        sa.Column("addresses", JSON, nullable=False),
        sa.Column("hub_region", sa.String(), nullable=True),
        sa.Column("ehealth", JSON, nullable=True),
        sa.Column("edmg", JSON, nullable=True),
        sa.Column("billing_company_name", sa.String(), nullable=False),
        sa.Column("billing_enterprise_number", sa.String(), nullable=True),
        sa.Column("billing_conventioned", sa.Boolean(), nullable=False),
        sa.Column("billing_iban", sa.String(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["practiceid_users.id"], name=op.f("fk_practiceid_practitioners_user_id")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_practiceid_practitioners")),
    )
    op.create_table(
        "practiceid_establishment_profiles",
        sa.Column("establishment_id", sa.String(), nullable=False),
        sa.Column("address_kind", sa.String(), nullable=False),
        sa.Column("street", sa.String(), nullable=False),
        sa.Column("postal_code", sa.String(), nullable=False),
        sa.Column("city", sa.String(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inami", sa.String(), nullable=True),
        sa.Column("finess", sa.String(), nullable=True),
        sa.Column("finess_kind", sa.String(), nullable=True),
        sa.Column("enterprise_number", sa.String(), nullable=True),
        sa.Column("trainee_account", sa.String(), nullable=True),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_media_type", sa.String(), nullable=True),
        sa.Column("logo_width", sa.Integer(), nullable=True),
        sa.Column("logo_height", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["practiceid_establishments.id"],
            name=op.f("fk_practiceid_establishment_profiles_establishment_id"),
        ),
        sa.PrimaryKeyConstraint(
            "establishment_id", name=op.f("pk_practiceid_establishment_profiles")
        ),
    )
    op.create_table(
        "practiceid_identity_keys",
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["practiceid_practitioners.user_id"],
            name=op.f("fk_practiceid_identity_keys_user_id"),
        ),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_practiceid_identity_keys")),
    )
    op.create_index(
        op.f("ix_practiceid_identity_keys_user_id"),
        "practiceid_identity_keys",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "practiceid_memberships",
        sa.Column("establishment_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("departments", JSON, nullable=False),
        sa.Column("delegations", JSON, nullable=False),
        sa.Column("features", JSON, nullable=False),
        sa.Column("created_account", sa.Boolean(), nullable=False),
        sa.Column("initials", sa.String(), nullable=False),
        sa.Column("initials_key", sa.String(), nullable=True),
        sa.Column("supervisor", sa.String(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["practiceid_establishments.id"],
            name=op.f("fk_practiceid_memberships_establishment_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["practiceid_users.id"], name=op.f("fk_practiceid_memberships_user_id")
        ),
        sa.PrimaryKeyConstraint(
            "establishment_id", "user_id", name=op.f("pk_practiceid_memberships")
        ),
    )
    op.create_index(
        op.f("ix_practiceid_memberships_establishment_id_initials_key"),
        "practiceid_memberships",
        ["establishment_id", "initials_key"],
        unique=True,
    )
    op.create_index(
        op.f("ix_practiceid_memberships_user_id"),
        "practiceid_memberships",
        ["user_id"],
        unique=False,
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_index(op.f("ix_practiceid_memberships_user_id"), table_name="practiceid_memberships")
    op.drop_index(
        op.f("ix_practiceid_memberships_establishment_id_initials_key"),
        table_name="practiceid_memberships",
    )
    op.drop_table("practiceid_memberships")
    op.drop_index(
        op.f("ix_practiceid_identity_keys_user_id"), table_name="practiceid_identity_keys"
    )
    op.drop_table("practiceid_identity_keys")
    op.drop_table("practiceid_establishment_profiles")
    op.drop_table("practiceid_practitioners")
    op.drop_index(
        op.f("ix_practiceid_organisation_owners_user_id"),
        table_name="practiceid_organisation_owners",
    )
    op.drop_table("practiceid_organisation_owners")
    op.drop_index(
        op.f("ix_practiceid_establishments_organisation_id"), table_name="practiceid_establishments"
    )
    op.drop_table("practiceid_establishments")
    op.drop_table("practiceid_organisations")
