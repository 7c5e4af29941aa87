"""The tables of the SQL adapter (SQLAlchemy Core), at the newest schema revision.

Every table name starts with ``practiceid_`` so that the tables can share a database with
the host's own. Columns that are searched or constrained are columns; collections that are
always read whole with their record (an establishment's roles, a membership's delegations, a
practitioner's addresses) are JSON documents, written by :mod:`._codec`.

Uniqueness is the database's job, with named indexes the adapter recognises when the driver
reports a violation:

* ``practiceid_users``: the login key and the e-mail key (A1, A2);
* ``practiceid_memberships``: the initials key per establishment (A7); empty initials are
  stored as ``NULL`` keys, and ``NULL`` is never equal to ``NULL`` in a unique index;
* ``practiceid_identity_keys``: one row per practitioner number (B2, B3), primary key
  ``(kind, key)``;
* ``practiceid_onboarding_links``: one row per live invitation link, primary key its
  SHA-256 digest, so a link names at most one record (D2);
* ``practiceid_terms``: one row per published version, primary key the version;
* ``practiceid_outbox``: the idempotency key of each message;
* ``practiceid_license_invoices``: one row per invoice number ever given, primary key the
  number, so that two desks cannot give one number at once (many licenses share a number,
  so ``practiceid_licenses`` cannot hold this key).

Three partial indexes hold only the rows a worker looks for, so that its query costs what it
returns: ``practiceid_onboardings`` by ``(due_at, user_id)`` and ``practiceid_licenses`` by
``(due_at, establishment_id, user_id)`` where ``due_at`` is set (the sweeps), and
``practiceid_outbox`` by ``(next_attempt_at, id)`` where the message is ``pending`` (the
dispatcher's claim). Both dialects have partial indexes; their ``WHERE`` is written once, in
:data:`DUE_ONBOARDINGS`, :data:`DUE_LICENSES` and :data:`PENDING_MESSAGES`.

A license's pending and last activation requests (:class:`~practiceid.LicenseRequest`) are
columns prefixed ``pending_`` and ``activation_``, so that both invoice numbers are indexed
(the desk finds an invoice's licenses by them); amounts are text, exact to the cent.

The audit trail (F3) is ``practiceid_audit_records``, one row per sealed record, primary key
``(chain, seq)`` (the event's fields are columns, its details JSON text), with an index on
``(chain, actor, seq)`` for one member's events in an establishment; and
``practiceid_audit_heads``, one row per chain holding its last position and digest, which
every append locks (see :class:`~practiceid.adapters.sql.SqlAuditLog`).

Shared clinic devices (F1-F4): ``practiceid_clinic_logins``, one row per clinic account;
``practiceid_member_credentials``, one row per (establishment, member), whose unique index on
``(establishment_id, pin_digest)`` makes a PIN held by two members of one establishment
impossible (revoked PINs are ``NULL`` and never clash) and finds an entered PIN's member;
``practiceid_device_sessions``, whose unique index on the token's digest finds a device's
session, and whose partial index on ``(establishment_id, id)`` holds the sessions not closed
(:data:`OPEN_SESSIONS`); and ``practiceid_pin_guards``, one row per establishment that ever
had a wrong PIN. A user's ``kind`` tells a person's account from a clinic login.

Personal key pairs (D3) and second factors (F5): ``practiceid_key_pairs``, one row per user
holding a public key (its SubjectPublicKeyInfo DER) and fingerprint, never a private key;
``practiceid_factors``, one row per second factor, with an index on ``user_id`` for a user's
factors (a TOTP factor's sealed secret as bytes, recovery codes' digests as JSON text of hex,
networks as JSON text); ``practiceid_factor_guards``, one row per user who ever entered a
wrong code; and ``practiceid_factor_requirements``, one row per establishment that ever set
whether it requires a second factor.

The migrations in ``migrations/versions`` build exactly these tables; a test compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["METADATA", "PREFIX", "UtcDateTime"]

PREFIX: Final = "practiceid_"

# Constraint names follow one convention, so migrations and metadata agree on them.
METADATA: Final = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored in UTC, read back aware (``tzinfo=UTC``).

    SQLite keeps no offset, so every instant is converted to UTC on the way in; PostgreSQL
    stores ``timestamptz``. Equal instants compare equal whatever offset they were given.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; naive datetimes never reach the adapter (entities are aware)."""
        if value is None:
            return None
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - SQLAlchemy's signature
    ) -> datetime | None:
        """Return the instant aware, in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSON_DOCUMENT: Final = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
"""Collections read whole with their record; JSONB on PostgreSQL."""


ACCOUNT_KIND_DEFAULT: Final = "person"
"""The kind of the accounts stored before kinds were (``AccountKind.PERSON``)."""


def _id(name: str, *, primary_key: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String, primary_key=primary_key, nullable=False)


users: Final = sa.Table(
    f"{PREFIX}users",
    METADATA,
    _id("id", primary_key=True),
    sa.Column("login", sa.String, nullable=False),
    sa.Column("login_key", sa.String, nullable=False),
    sa.Column("email", sa.String, nullable=False),
    sa.Column("email_key", sa.String, nullable=False),
    sa.Column("first_name", sa.String, nullable=False),
    sa.Column("last_name", sa.String, nullable=False),
    sa.Column("job_title", sa.String, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("password_hash", sa.String, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    # Added by 0006_devices, hence last; accounts stored before it are people's.
    sa.Column("kind", sa.String, nullable=False, server_default=ACCOUNT_KIND_DEFAULT),
    sa.Index(None, "login_key", unique=True),
    sa.Index(None, "email_key", unique=True),
)

organisations: Final = sa.Table(
    f"{PREFIX}organisations",
    METADATA,
    _id("id", primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

organisation_owners: Final = sa.Table(
    f"{PREFIX}organisation_owners",
    METADATA,
    sa.Column(
        "organisation_id",
        sa.String,
        sa.ForeignKey(organisations.c.id),
        primary_key=True,
    ),
    sa.Column("user_id", sa.String, sa.ForeignKey(users.c.id), primary_key=True),
    sa.Index(None, "user_id"),
)

establishments: Final = sa.Table(
    f"{PREFIX}establishments",
    METADATA,
    _id("id", primary_key=True),
    sa.Column("organisation_id", sa.String, sa.ForeignKey(organisations.c.id), nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("product", sa.String, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("roles", JSON_DOCUMENT, nullable=False),
    sa.Column("departments", JSON_DOCUMENT, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index(None, "organisation_id"),
)

memberships: Final = sa.Table(
    f"{PREFIX}memberships",
    METADATA,
    sa.Column(
        "establishment_id",
        sa.String,
        sa.ForeignKey(establishments.c.id),
        primary_key=True,
    ),
    sa.Column("user_id", sa.String, sa.ForeignKey(users.c.id), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("roles", JSON_DOCUMENT, nullable=False),
    sa.Column("departments", JSON_DOCUMENT, nullable=False),
    sa.Column("delegations", JSON_DOCUMENT, nullable=False),
    sa.Column("features", JSON_DOCUMENT, nullable=False),
    sa.Column("created_account", sa.Boolean, nullable=False),
    sa.Column("initials", sa.String, nullable=False),
    sa.Column("initials_key", sa.String, nullable=True),
    sa.Column("supervisor", sa.String, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index(None, "user_id"),
    sa.Index(None, "establishment_id", "initials_key", unique=True),
)

practitioners: Final = sa.Table(
    f"{PREFIX}practitioners",
    METADATA,
    sa.Column("user_id", sa.String, sa.ForeignKey(users.c.id), primary_key=True),
    sa.Column("profession", sa.String, nullable=False),
    sa.Column("country", sa.String, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("inami", sa.String, nullable=True),
    sa.Column("niss", sa.String, nullable=True),
    sa.Column("rpps", sa.String, nullable=True),
    sa.Column("adeli", sa.String, nullable=True),
    sa.Column("addresses", JSON_DOCUMENT, nullable=False),
    sa.Column("hub_region", sa.String, nullable=True),
    sa.Column("ehealth", JSON_DOCUMENT, nullable=True),
    sa.Column("edmg", JSON_DOCUMENT, nullable=True),
    sa.Column("billing_company_name", sa.String, nullable=False),
    sa.Column("billing_enterprise_number", sa.String, nullable=True),
    sa.Column("billing_conventioned", sa.Boolean, nullable=False),
    sa.Column("billing_iban", sa.String, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
)

identity_keys: Final = sa.Table(
    f"{PREFIX}identity_keys",
    METADATA,
    sa.Column("kind", sa.String, primary_key=True),
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("user_id", sa.String, sa.ForeignKey(practitioners.c.user_id), nullable=False),
    sa.Index(None, "user_id"),
)

establishment_profiles: Final = sa.Table(
    f"{PREFIX}establishment_profiles",
    METADATA,
    sa.Column(
        "establishment_id",
        sa.String,
        sa.ForeignKey(establishments.c.id),
        primary_key=True,
    ),
    sa.Column("address_kind", sa.String, nullable=False),
    sa.Column("street", sa.String, nullable=False),
    sa.Column("postal_code", sa.String, nullable=False),
    sa.Column("city", sa.String, nullable=False),
    sa.Column("country", sa.String, nullable=False),
    sa.Column("email", sa.String, nullable=True),
    sa.Column("phone", sa.String, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("inami", sa.String, nullable=True),
    sa.Column("finess", sa.String, nullable=True),
    sa.Column("finess_kind", sa.String, nullable=True),
    sa.Column("enterprise_number", sa.String, nullable=True),
    sa.Column("trainee_account", sa.String, nullable=True),
    sa.Column("logo", sa.LargeBinary, nullable=True),
    sa.Column("logo_media_type", sa.String, nullable=True),
    sa.Column("logo_width", sa.Integer, nullable=True),
    sa.Column("logo_height", sa.Integer, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
)

LOGIN_INDEX: Final = "ix_practiceid_users_login_key"
EMAIL_INDEX: Final = "ix_practiceid_users_email_key"
INITIALS_INDEX: Final = "ix_practiceid_memberships_establishment_id_initials_key"

# -- onboarding (D1, D2) --------------------------------------------------------------------

DUE_ONBOARDINGS: Final = "due_at IS NOT NULL"
"""The rows of ``practiceid_onboardings`` the sweep's index holds."""
PENDING_MESSAGES: Final = "status = 'pending'"
"""The rows of ``practiceid_outbox`` the dispatcher's index holds; its claim says it literally
(SQLite uses a partial index only for a query that repeats its ``WHERE``, not a parameter)."""


def _partial(where: str) -> dict[str, Any]:
    """The keyword arguments of an index holding the rows ``where`` on both dialects."""
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


onboardings: Final = sa.Table(
    f"{PREFIX}onboardings",
    METADATA,
    sa.Column("user_id", sa.String, sa.ForeignKey(users.c.id), primary_key=True),
    # Not a foreign key: a record made for an account that predates onboarding names none.
    sa.Column("establishment_id", sa.String, nullable=False),
    sa.Column("mode", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("due_at", UtcDateTime, nullable=True),
    sa.Column("invited_by", sa.String, nullable=True),
    sa.Column("locale", sa.String, nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("reminders_sent", sa.Integer, nullable=False),
    sa.Column("email_key", sa.String, nullable=False),
    sa.Column("sends", JSON_DOCUMENT, nullable=False),
    sa.Column("resume", sa.String, nullable=True),
    sa.Column("accepted_at", UtcDateTime, nullable=True),
    sa.Column("signed_in_at", UtcDateTime, nullable=True),
    sa.Column("activated_at", UtcDateTime, nullable=True),
    sa.Column("terms_version", sa.String, nullable=True),
    sa.Column("terms_accepted_at", UtcDateTime, nullable=True),
    sa.Column("password_change_required", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index(None, "due_at", "user_id", **_partial(DUE_ONBOARDINGS)),
)

onboarding_links: Final = sa.Table(
    f"{PREFIX}onboarding_links",
    METADATA,
    sa.Column("digest", sa.LargeBinary(32), primary_key=True),
    sa.Column("user_id", sa.String, sa.ForeignKey(onboardings.c.user_id), nullable=False),
    # Orders a record's digests as ``Onboarding.token_digests`` (oldest link first): it grows
    # along the tuple, so that appending a link moves no other row.
    sa.Column("position", sa.Integer, nullable=False),
    sa.Index(None, "user_id"),
)

terms: Final = sa.Table(
    f"{PREFIX}terms",
    METADATA,
    sa.Column("version", sa.String, primary_key=True),
    sa.Column("published_at", UtcDateTime, nullable=False),
)

outbox: Final = sa.Table(
    f"{PREFIX}outbox",
    METADATA,
    _id("id", primary_key=True),
    sa.Column("idempotency_key", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("recipient", sa.String, nullable=False),
    sa.Column("locale", sa.String, nullable=False),
    sa.Column("params", JSON_DOCUMENT, nullable=False),
    # Not a foreign key: the outbox is a log of what was sent, kept whatever the account.
    sa.Column("user_id", sa.String, nullable=True),
    sa.Column("link_round", sa.Integer, nullable=True),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("claimed_until", UtcDateTime, nullable=True),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.String, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index(None, "idempotency_key", unique=True),
    sa.Index(None, "next_attempt_at", "id", **_partial(PENDING_MESSAGES)),
    sa.Index(None, "user_id"),
)

DUE_INDEX: Final = "ix_practiceid_onboardings_due_at_user_id"
PENDING_INDEX: Final = "ix_practiceid_outbox_next_attempt_at_id"

# -- licenses (E1-E4) -------------------------------------------------------------------------

DUE_LICENSES: Final = "due_at IS NOT NULL"
"""The rows of ``practiceid_licenses`` the sweep's index holds."""


def _request_columns(prefix: str) -> list[sa.Column[Any]]:
    """The columns of one :class:`~practiceid.LicenseRequest`, ``prefix`` before each name.

    All ``NULL`` when the license has none; ``<prefix>requested_at`` tells whether it has.
    """
    return [
        sa.Column(f"{prefix}requested_at", UtcDateTime, nullable=True),
        sa.Column(f"{prefix}requested_by", sa.String, nullable=True),
        sa.Column(f"{prefix}kind", sa.String, nullable=True),
        sa.Column(f"{prefix}months", sa.Integer, nullable=True),
        sa.Column(f"{prefix}first_name", sa.String, nullable=True),
        sa.Column(f"{prefix}last_name", sa.String, nullable=True),
        sa.Column(f"{prefix}identifier_kind", sa.String, nullable=True),
        sa.Column(f"{prefix}identifier", sa.String, nullable=True),
        sa.Column(f"{prefix}practice", sa.String, nullable=True),
        sa.Column(f"{prefix}bill_to", sa.String, nullable=True),
        sa.Column(f"{prefix}invoice_number", sa.String, nullable=True),
        sa.Column(f"{prefix}invoiced_at", UtcDateTime, nullable=True),
        # Text, not a number: a Decimal comes back exactly as written ("420.00", not 420).
        sa.Column(f"{prefix}amount", sa.String, nullable=True),
        sa.Column(f"{prefix}currency", sa.String, nullable=True),
        sa.Column(f"{prefix}paid_at", UtcDateTime, nullable=True),
        sa.Column(f"{prefix}activation_due_at", UtcDateTime, nullable=True),
        sa.Column(f"{prefix}late_reported_at", UtcDateTime, nullable=True),
        sa.Column(f"{prefix}activated_at", UtcDateTime, nullable=True),
    ]


licenses: Final = sa.Table(
    f"{PREFIX}licenses",
    METADATA,
    sa.Column(
        "establishment_id",
        sa.String,
        sa.ForeignKey(establishments.c.id),
        primary_key=True,
    ),
    sa.Column("user_id", sa.String, sa.ForeignKey(users.c.id), primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("valid_from", UtcDateTime, nullable=True),
    sa.Column("valid_until", UtcDateTime, nullable=True),
    sa.Column("provisional_until", UtcDateTime, nullable=True),
    sa.Column("notices_sent", sa.Integer, nullable=False),
    sa.Column("lapsed_at", UtcDateTime, nullable=True),
    *_request_columns("pending_"),
    *_request_columns("activation_"),
    sa.Column("resume", sa.String, nullable=True),
    sa.Column("due_at", UtcDateTime, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index(None, "due_at", "establishment_id", "user_id", **_partial(DUE_LICENSES)),
    sa.Index(None, "pending_invoice_number"),
    sa.Index(None, "activation_invoice_number"),
    sa.Index(None, "status"),
    sa.Index(None, "user_id"),
)

license_invoices: Final = sa.Table(
    f"{PREFIX}license_invoices",
    METADATA,
    # Kept for good, even when the invoice's licenses leave it: numbering is continuous.
    sa.Column("invoice_number", sa.String, primary_key=True),
    sa.Column("establishment_id", sa.String, sa.ForeignKey(establishments.c.id), nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
)

DUE_LICENSES_INDEX: Final = "ix_practiceid_licenses_due_at_establishment_id_user_id"
INVOICE_INDEXES: Final = (
    "ix_practiceid_licenses_pending_invoice_number",
    "ix_practiceid_licenses_activation_invoice_number",
)

# -- the audit trail (F3) ---------------------------------------------------------------------

audit_records: Final = sa.Table(
    f"{PREFIX}audit_records",
    METADATA,
    # No foreign keys: a record outlives whatever it names, and the platform chain is "".
    sa.Column("chain", sa.String, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("action", sa.String, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("outcome", sa.String, nullable=False),
    sa.Column("code", sa.String, nullable=False),
    sa.Column("establishment_id", sa.String, nullable=True),
    sa.Column("actor", sa.String, nullable=True),
    sa.Column("account_id", sa.String, nullable=True),
    sa.Column("device_session_id", sa.String, nullable=True),
    sa.Column("on_behalf_of", sa.String, nullable=True),
    sa.Column("target_type", sa.String, nullable=False),
    sa.Column("target_id", sa.String, nullable=False),
    sa.Column("peer_address", sa.String, nullable=True),
    sa.Column("request_id", sa.String, nullable=False),
    # JSON text, not a JSON column: the text read back is the text written, whatever the
    # database's JSON type makes of numbers and key order.
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("previous", sa.LargeBinary(32), nullable=False),
    sa.Column("digest", sa.LargeBinary(32), nullable=False),
    sa.Column("key_id", sa.String, nullable=False),
    sa.Index(None, "chain", "actor", "seq"),
)

audit_heads: Final = sa.Table(
    f"{PREFIX}audit_heads",
    METADATA,
    # One row per chain, locked by each append to it: positions are given one at a time.
    sa.Column("chain", sa.String, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("digest", sa.LargeBinary(32), nullable=False),
)

AUDIT_ACTOR_INDEX: Final = "ix_practiceid_audit_records_chain_actor_seq"

# -- shared clinic devices (F1-F4) ------------------------------------------------------------

OPEN_SESSIONS: Final = "state <> 'closed'"
"""The rows of ``practiceid_device_sessions`` the listing's index holds: sessions not closed
(the listing says it literally, as the outbox's claim does)."""

clinic_logins: Final = sa.Table(
    f"{PREFIX}clinic_logins",
    METADATA,
    sa.Column("user_id", sa.String, sa.ForeignKey(users.c.id), primary_key=True),
    sa.Column("establishment_id", sa.String, sa.ForeignKey(establishments.c.id), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Not a foreign key, as a license request's ``requested_by``: who acted, kept as given.
    sa.Column("created_by", sa.String, nullable=False),
    sa.Column("remote_access", sa.Boolean, nullable=False),
    # JSON text of the normalized CIDR networks, sorted: read whole with the login.
    sa.Column("networks", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index(None, "establishment_id"),
)

member_credentials: Final = sa.Table(
    f"{PREFIX}member_credentials",
    METADATA,
    sa.Column(
        "establishment_id",
        sa.String,
        sa.ForeignKey(establishments.c.id),
        primary_key=True,
    ),
    sa.Column("user_id", sa.String, sa.ForeignKey(users.c.id), primary_key=True),
    # The keyed digest of the PIN; NULL once revoked (NULLs never clash in a unique index).
    sa.Column("pin_digest", sa.LargeBinary(32), nullable=True),
    sa.Column("pin_key_id", sa.String, nullable=False),
    sa.Column("pin_issued_at", UtcDateTime, nullable=True),
    sa.Column("misses", sa.Integer, nullable=False),
    sa.Column("blocked_at", UtcDateTime, nullable=True),
    sa.Column("remote_access", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index(None, "establishment_id", "pin_digest", unique=True),
    sa.Index(None, "user_id"),
)

device_sessions: Final = sa.Table(
    f"{PREFIX}device_sessions",
    METADATA,
    _id("id", primary_key=True),
    sa.Column("establishment_id", sa.String, sa.ForeignKey(establishments.c.id), nullable=False),
    sa.Column("account_id", sa.String, sa.ForeignKey(users.c.id), nullable=False),
    sa.Column("token_digest", sa.LargeBinary(32), nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("last_activity_at", UtcDateTime, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    # Not a foreign key, as the audit trail's actors: the member who unlocked it, as given.
    sa.Column("member", sa.String, nullable=True),
    sa.Column("unlocked_at", UtcDateTime, nullable=True),
    sa.Column("misses", sa.Integer, nullable=False),
    sa.Column("remote", sa.Boolean, nullable=False),
    sa.Column("peer_address", sa.String, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index(None, "token_digest", unique=True),
    sa.Index(None, "establishment_id"),
    sa.Index(None, "establishment_id", "id", **_partial(OPEN_SESSIONS)),
)

pin_guards: Final = sa.Table(
    f"{PREFIX}pin_guards",
    METADATA,
    sa.Column(
        "establishment_id",
        sa.String,
        sa.ForeignKey(establishments.c.id),
        primary_key=True,
    ),
    # JSON text: the recent wrong PINs' instants, ISO 8601 in UTC to the microsecond.
    sa.Column("misses", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

PIN_INDEX: Final = "ix_practiceid_member_credentials_establishment_id_pin_digest"
TOKEN_INDEX: Final = "ix_practiceid_device_sessions_token_digest"  # noqa: S105 - a name
OPEN_SESSIONS_INDEX: Final = "ix_practiceid_device_sessions_establishment_id_id"

# -- personal key pairs (D3) and second factors (F5) ------------------------------------------

key_pairs: Final = sa.Table(
    f"{PREFIX}key_pairs",
    METADATA,
    sa.Column("user_id", sa.String, sa.ForeignKey(users.c.id), primary_key=True),
    # The public key's SubjectPublicKeyInfo DER: no column could hold a private key.
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("fingerprint", sa.String, nullable=False),
    sa.Column("algorithm", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("generated_at", UtcDateTime, nullable=False),
    # Not a foreign key, as a clinic login's ``created_by``: who acted, kept as given.
    sa.Column("generated_by", sa.String, nullable=False),
    sa.Column("confirmed_at", UtcDateTime, nullable=True),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

factors: Final = sa.Table(
    f"{PREFIX}factors",
    METADATA,
    _id("id", primary_key=True),
    sa.Column("user_id", sa.String, sa.ForeignKey(users.c.id), nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Not a foreign key, as a clinic login's ``created_by``: who acted, kept as given.
    sa.Column("created_by", sa.String, nullable=False),
    sa.Column("confirmed_at", UtcDateTime, nullable=True),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
    sa.Column("key_id", sa.String, nullable=True),
    # A TOTP factor's nonce and AES-GCM ciphertext (empty for other kinds): never the secret.
    sa.Column("secret", sa.LargeBinary, nullable=False),
    # TOTP time steps count 30-second periods: a 64-bit column, whatever the period.
    sa.Column("last_step", sa.BigInteger, nullable=False),
    # JSON text: the unused recovery codes' digests, lowercase hex, in order.
    sa.Column("digests", sa.Text, nullable=False),
    # JSON text of the CIDR networks, in order: read whole with the factor.
    sa.Column("networks", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index(None, "user_id"),
)

factor_guards: Final = sa.Table(
    f"{PREFIX}factor_guards",
    METADATA,
    sa.Column("user_id", sa.String, sa.ForeignKey(users.c.id), primary_key=True),
    # JSON text: the recent wrong codes' instants, ISO 8601 in UTC to the microsecond.
    sa.Column("misses", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

factor_requirements: Final = sa.Table(
    f"{PREFIX}factor_requirements",
    METADATA,
    sa.Column(
        "establishment_id",
        sa.String,
        sa.ForeignKey(establishments.c.id),
        primary_key=True,
    ),
    sa.Column("required", sa.Boolean, nullable=False),
    sa.Column("changed_at", UtcDateTime, nullable=False),
    # Not a foreign key, as a clinic login's ``created_by``: who acted, kept as given.
    sa.Column("changed_by", sa.String, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)
