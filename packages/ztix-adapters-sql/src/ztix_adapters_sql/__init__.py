"""ztix storage adapter: SQLAlchemy 2, Alembic, psycopg 3; SQLite and PostgreSQL."""
