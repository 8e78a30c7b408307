"""The database as the tests use it: SQLAlchemy + psycopg (part of `testbed.sh verify`).

``select 1`` on PG_TEST_URL, then a scratch database created and dropped through
PG_ADMIN_URL, which is how the tests get databases of their own. Without psycopg in
the venv the check is skipped: the health check has already used psql.
"""

import os
import sys
import uuid


def main() -> None:
    try:
        import psycopg  # noqa: F401
        import sqlalchemy as sa
    except ImportError as exc:
        print(f"postgres check: {exc}; skipped (health check used psql)")
        sys.exit(0)
    with sa.create_engine(os.environ["PG_TEST_URL"]).connect() as connection:
        if connection.execute(sa.text("select 1")).scalar() != 1:
            sys.exit("postgres check: select 1 did not return 1")
    scratch = "heroes_scratch_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(os.environ["PG_ADMIN_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"create database {scratch}"))
        connection.execute(sa.text(f"drop database {scratch}"))
    admin.dispose()


if __name__ == "__main__":
    main()
