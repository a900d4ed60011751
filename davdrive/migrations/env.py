"""Alembic environment: runs against the engine handed over by davdrive.db.

SQLite changes a column by rebuilding its table (batch mode); a table other
tables refer to can only be rebuilt with foreign keys off, as SQLite's own
procedure says: they are switched off around the migration (outside its
transaction, where the pragma works), every reference is checked before the
commit, and they are switched on again; the write-ahead log the rebuild
filled is then truncated (its space is the disk's again).

PostgreSQL: the migration transaction takes the database's write lock first
(``davdrive.write_lock``), before Alembic reads the current revision, so
server processes started together on a new database migrate one after the
other, and the later ones find the schema at head.
"""

from alembic import context
from sqlalchemy import text

from davdrive import write_lock
from davdrive.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                write_lock.take_write_lock_on(connection, "migrations")
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.execute(text("PRAGMA foreign_key_check")).first()
                if broken is not None:
                    raise RuntimeError(f"migration left a broken reference: {tuple(broken)}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            # A rebuilt table passed through the write-ahead log: give its space back.
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.commit()
