"""Licenses: one per member of an establishment, with its pending and last activation (E1-E4).

And the invoice numbers given, one row each, kept for good.

Revision ID: 0004_licenses
Revises: 0003_onboarding
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_licenses"
down_revision = "0003_onboarding"
branch_labels = None
depends_on = None

# Written out, not imported from the schema module: a revision never changes once shipped.
DUE_LICENSES = "due_at IS NOT NULL"


def _partial(where: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


def upgrade() -> None:
    """Create the tables and their indexes."""
    op.create_table(
        "practiceid_licenses",
        sa.Column("establishment_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provisional_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notices_sent", sa.Integer(), nullable=False),
        sa.Column("lapsed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_requested_by", sa.String(), nullable=True),
        sa.Column("pending_kind", sa.String(), nullable=True),
        sa.Column("pending_months", sa.Integer(), nullable=True),
        sa.Column("pending_first_name", sa.String(), nullable=True),
        sa.Column("pending_last_name", sa.String(), nullable=True),
        sa.Column("pending_identifier_kind", sa.String(), nullable=True),
        sa.Column("pending_identifier", sa.String(), nullable=True),
        sa.Column("pending_practice", sa.String(), nullable=True),
        sa.Column("pending_bill_to", sa.String(), nullable=True),
        sa.Column("pending_invoice_number", sa.String(), nullable=True),
        sa.Column("pending_invoiced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_amount", sa.String(), nullable=True),
        sa.Column("pending_currency", sa.String(), nullable=True),
        sa.Column("pending_paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_activation_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_late_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activation_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activation_requested_by", sa.String(), nullable=True),
        sa.Column("activation_kind", sa.String(), nullable=True),
        sa.Column("activation_months", sa.Integer(), nullable=True),
        sa.Column("activation_first_name", sa.String(), nullable=True),
        sa.Column("activation_last_name", sa.String(), nullable=True),
        sa.Column("activation_identifier_kind", sa.String(), nullable=True),
        sa.Column("activation_identifier", sa.String(), nullable=True),
        sa.Column("activation_practice", sa.String(), nullable=True),
        sa.Column("activation_bill_to", sa.String(), nullable=True),
        sa.Column("activation_invoice_number", sa.String(), nullable=True),
        sa.Column("activation_invoiced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activation_amount", sa.String(), nullable=True),
        sa.Column("activation_currency", sa.String(), nullable=True),
        sa.Column("activation_paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activation_activation_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activation_late_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activation_activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resume", sa.String(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["practiceid_establishments.id"],
            name=op.f("fk_practiceid_licenses_establishment_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["practiceid_users.id"], name=op.f("fk_practiceid_licenses_user_id")
        ),
        sa.PrimaryKeyConstraint("establishment_id", "user_id", name=op.f("pk_practiceid_licenses")),
    )
    op.create_index(
        op.f("ix_practiceid_licenses_due_at_establishment_id_user_id"),
        "practiceid_licenses",
        ["due_at", "establishment_id", "user_id"],
        unique=False,
        **_partial(DUE_LICENSES),
    )
    op.create_index(
        op.f("ix_practiceid_licenses_pending_invoice_number"),
        "practiceid_licenses",
        ["pending_invoice_number"],
        unique=False,
    )
    op.create_index(
        op.f("ix_practiceid_licenses_activation_invoice_number"),
        "practiceid_licenses",
        ["activation_invoice_number"],
        unique=False,
    )
    op.create_index(
        op.f("ix_practiceid_licenses_status"), "practiceid_licenses", ["status"], unique=False
    )
    op.create_index(
        op.f("ix_practiceid_licenses_user_id"), "practiceid_licenses", ["user_id"], unique=False
    )
    op.create_table(
        "practiceid_license_invoices",
        sa.Column("invoice_number", sa.String(), nullable=False),
        sa.Column("establishment_id", sa.String(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["practiceid_establishments.id"],
            name=op.f("fk_practiceid_license_invoices_establishment_id"),
        ),
        sa.PrimaryKeyConstraint("invoice_number", name=op.f("pk_practiceid_license_invoices")),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("practiceid_license_invoices")
    op.drop_index(op.f("ix_practiceid_licenses_user_id"), table_name="practiceid_licenses")
    op.drop_index(op.f("ix_practiceid_licenses_status"), table_name="practiceid_licenses")
    op.drop_index(
        op.f("ix_practiceid_licenses_activation_invoice_number"), table_name="practiceid_licenses"
    )
    op.drop_index(
        op.f("ix_practiceid_licenses_pending_invoice_number"), table_name="practiceid_licenses"
    )
    op.drop_index(
        op.f("ix_practiceid_licenses_due_at_establishment_id_user_id"),
        table_name="practiceid_licenses",
    )
    op.drop_table("practiceid_licenses")
