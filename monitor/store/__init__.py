"""The store: SQLModel tables, the engine, Alembic migrations and fast frame reads.

SQLite (WAL) is the embedded default; PostgreSQL serves larger shops and several replicas."""
