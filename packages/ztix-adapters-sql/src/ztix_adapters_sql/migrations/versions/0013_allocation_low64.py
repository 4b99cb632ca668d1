"""The low 64 bits of every held peering-LAN address as a number, indexed per network and
family, so the lowest free address is found by the database instead of by reading every
held address at each allocation.

Additive: the column is nullable, rows are filled in here (and, for any a previous release
writes while this runs, when the allocator meets them).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOW64 = (1 << 64) - 1
_BIAS = 1 << 63


def upgrade() -> None:
    op.add_column("ip_allocations", sa.Column("low64", sa.BigInteger(), nullable=True))
    table = sa.table(
        "ip_allocations",
        sa.column("network_id", sa.String),
        sa.column("address", sa.String),
        sa.column("low64", sa.BigInteger),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(table.c.network_id, table.c.address)).all()
    if rows:
        conn.execute(
            sa.update(table)
            .where(table.c.network_id == sa.bindparam("n"), table.c.address == sa.bindparam("a"))
            .values(low64=sa.bindparam("k")),
            [
                {"n": n, "a": a, "k": (int(ipaddress.ip_address(a)) & _LOW64) - _BIAS}
                for n, a in rows
            ],
        )
    op.create_index(
        "ix_ip_allocations_low64",
        "ip_allocations",
        ["network_id", "version", "low64"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_ip_allocations_low64", table_name="ip_allocations")
    op.drop_column("ip_allocations", "low64")
