"""Alembic migrations of the ztix schema (run through :mod:`ztix_adapters_sql.migrate`)."""
