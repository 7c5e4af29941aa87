"""Alembic's environment for practiceid's migrations: run by ``SqlStore.upgrade_schema``.

The store hands its open connection over in ``config.attributes["connection"]``; the
revision is kept in ``practiceid_schema_version``, so that a host's own Alembic history in
the same database (``alembic_version``) is never touched.
"""

from __future__ import annotations

from alembic import context

from practiceid.adapters.sql import VERSION_TABLE
from practiceid.adapters.sql._schema import METADATA

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=METADATA,
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
