"""alembic environment for the sample project.

The connection comes from the environment, never from alembic.ini:
  1. DATABASE_URL (postgresql://... or postgresql+psycopg://...), else
  2. DB_HOST / DB_PORT / DB_USER / DB_NAME / DB_PASSWORD (the runbook's variables), else
  3. libpq's PGHOST / PGPORT / PGUSER / PGDATABASE / PGPASSWORD.
Defaults: host 127.0.0.1, port 5432, user valeo, database valeo_erp. A password that is not given here is
left to libpq (PGPASSWORD, ~/.pgpass), so it never needs to be written anywhere.
"""

import os

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import URL, make_url

config = context.config
target_metadata = None


def _first(*names: str, default: str | None = None) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return default


def database_url() -> URL:
    raw = os.environ.get("DATABASE_URL")
    if raw:
        url = make_url(raw)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url
    port = _first("DB_PORT", "PGPORT", default="5432")
    return URL.create(
        drivername="postgresql+psycopg",
        username=_first("DB_USER", "PGUSER", default="valeo"),
        password=_first("DB_PASSWORD"),  # None → libpq reads PGPASSWORD itself
        host=_first("DB_HOST", "PGHOST", default="127.0.0.1"),
        port=int(port) if port else None,
        database=_first("DB_NAME", "PGDATABASE", default="valeo_erp"),
    )


def run_migrations_offline() -> None:
    context.configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
