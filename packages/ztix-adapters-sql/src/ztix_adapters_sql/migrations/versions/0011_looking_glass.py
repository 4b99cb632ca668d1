"""The looking glass: per member ASN, the worker's last reading of its sessions and
filtered routes on every route server (one JSON document) and when a fresh one was last
asked for.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ASN_RANGE = "asn BETWEEN 1 AND 4294967294"


def upgrade() -> None:
    op.create_table(
        "looking_glass",
        sa.Column("asn", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "servers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(_ASN_RANGE, name=op.f("ck_looking_glass_asn_range")),
        sa.PrimaryKeyConstraint("asn", name=op.f("pk_looking_glass")),
    )


def downgrade() -> None:
    op.drop_table("looking_glass")
