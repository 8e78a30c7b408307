"""exact money, one open reservation per workflow and budget, overage, per-run ledger

Revision ID: 0004
Revises: 0003

- SQLite kept NUMERIC values as floats; they become integer counts of 10**-scale, which
  ``ExactDecimal`` reads back exactly (PostgreSQL's numeric needs nothing).
- Open reservations a race duplicated are released (their unspent part given back to
  the budget), then a unique partial index allows one open reservation per workflow and
  budget.
- Reservations record the price versions the estimate used and the job (site, job key)
  they pay for; budgets, reservations and cost lines get an ``overage``.
- The ledger is unique per charge (``charge_ref``: the scheduler's job or the run) instead
  of per job key alone; existing lines are charges of their run.
"""

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# (table, column, scale) of every exact column of the costs tables
EXACT = [
    ('price_versions', c, 6) for c in ('fixed', 'per_core_hour', 'per_node_hour', 'per_gpu_hour',
                                       'per_gb_month', 'per_gb_transferred')
] + [
    ('exchange_rates', 'rate', 8),
    ('budgets', 'amount', 6), ('budgets', 'reserved', 6), ('budgets', 'committed', 6),
    ('reservations', 'amount', 6), ('reservations', 'committed', 6),
    ('cost_lines', 'quantity', 6), ('cost_lines', 'unit_price', 6),
    ('cost_lines', 'amount', 2), ('cost_lines', 'budget_amount', 2),
]
OLD_LEDGER_UNIQUE = 'cost_lines_job_key_offering_id_unit_key'  # PostgreSQL's name for it
SQLITE_NAMES = {'uq': 'uq_%(table_name)s_%(column_0_N_name)s'}  # names SQLite's unnamed ones


def _sqlite_units(to_units: bool) -> None:
    """Rewrite SQLite's float values as integer units (or back), exactly as they were written."""
    bind = op.get_bind()
    for table, column, scale in EXACT:
        # table and column names come from EXACT above, never from input
        rows = bind.execute(sa.text(f'SELECT id, "{column}" FROM {table}')).all()  # noqa: S608
        for row_id, value in rows:
            if value is None:
                continue
            if to_units:
                if isinstance(value, int) and not isinstance(value, bool):
                    number = Decimal(value)
                else:  # repr() of a float is the shortest text that reads back as it
                    number = Decimal(repr(float(value)))
                new: object = int(number.scaleb(scale).to_integral_value())
            else:
                new = float(Decimal(value).scaleb(-scale))
            bind.execute(sa.text(f'UPDATE {table} SET "{column}" = :v WHERE id = :i'),  # noqa: S608
                         {'v': new, 'i': row_id})


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        _sqlite_units(to_units=True)

    # Duplicated open reservations (the race of issue 9): keep the first, release the rest.
    duplicates = ("SELECT id FROM reservations WHERE state = 'open' AND id NOT IN "
                  "(SELECT MIN(id) FROM reservations WHERE state = 'open' "
                  "GROUP BY workflow_id, budget_id)")
    unspent = ("SELECT COALESCE(SUM(CASE WHEN r.amount > r.committed THEN r.amount - r.committed "
               "ELSE 0 END), 0) FROM reservations r WHERE r.budget_id = budgets.id")
    op.execute(f"UPDATE budgets SET reserved = reserved - ({unspent} AND r.id IN ({duplicates}))")  # noqa: S608
    op.get_bind().execute(
        sa.text(f"UPDATE reservations SET state = 'released', released_at = :now "  # noqa: S608
                f"WHERE id IN (SELECT id FROM ({duplicates}) AS d)").bindparams(
            sa.bindparam('now', datetime.now(UTC), type_=sa.DateTime(timezone=True))))

    # Plain ALTER TABLE ADD COLUMN (no batch): rebuilding these tables on SQLite would break
    # the foreign keys that point at them.
    op.add_column('budgets', sa.Column('overage', sa.Numeric(precision=18, scale=6),
                                       server_default=sa.text('0'), nullable=False))
    op.add_column('reservations', sa.Column('overage', sa.Numeric(precision=18, scale=6),
                                            server_default=sa.text('0'), nullable=False))
    op.add_column('reservations', sa.Column('price_versions', sa.JSON(),
                                            server_default=sa.text("'{}'"), nullable=False))
    op.add_column('reservations', sa.Column('site', sa.String(length=100), nullable=True))
    op.add_column('reservations', sa.Column('job_key', sa.String(length=100), nullable=True))
    op.create_index('uq_reservations_open', 'reservations', ['workflow_id', 'budget_id'],
                    unique=True, postgresql_where=sa.text("state = 'open'"),
                    sqlite_where=sa.text("state = 'open'"))

    op.add_column('cost_lines', sa.Column('charge_ref', sa.String(length=200), nullable=True))
    op.add_column('cost_lines', sa.Column('overage', sa.Numeric(precision=18, scale=2),
                                          server_default=sa.text('0'), nullable=False))
    op.execute("UPDATE cost_lines SET charge_ref = 'run:' || workflow_id")
    with op.batch_alter_table('cost_lines', schema=None,  # nothing points at cost_lines
                              naming_convention=SQLITE_NAMES if sqlite else None) as batch_op:
        batch_op.alter_column('charge_ref', existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_constraint('uq_cost_lines_job_key_offering_id_unit' if sqlite
                                 else OLD_LEDGER_UNIQUE, type_='unique')
        batch_op.create_unique_constraint('uq_cost_lines_charge',
                                          ['charge_ref', 'job_key', 'offering_id', 'unit'])


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('cost_lines', schema=None) as batch_op:
        batch_op.drop_constraint('uq_cost_lines_charge', type_='unique')
        batch_op.create_unique_constraint('uq_cost_lines_job_key_offering_id_unit' if sqlite
                                          else OLD_LEDGER_UNIQUE,
                                          ['job_key', 'offering_id', 'unit'])
        batch_op.drop_column('overage')
        batch_op.drop_column('charge_ref')
    op.drop_index('uq_reservations_open', 'reservations')
    for table, column in (('reservations', 'job_key'), ('reservations', 'site'),
                          ('reservations', 'price_versions'), ('reservations', 'overage'),
                          ('budgets', 'overage')):
        op.drop_column(table, column)  # SQLite >= 3.35 drops a column in place
    if sqlite:
        _sqlite_units(to_units=False)
