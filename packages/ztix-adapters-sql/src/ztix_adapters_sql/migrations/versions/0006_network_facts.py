"""PeeringDB facts: the cache of what PeeringDB said about each ASN, with the time it said
it (and why the last ask failed), and the admins' max-prefix overrides per ASN.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ASN_RANGE = "asn BETWEEN 1 AND 4294967294"


def upgrade() -> None:
    op.create_table(
        "network_facts",
        sa.Column("asn", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "facts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.CheckConstraint(_ASN_RANGE, name=op.f("ck_network_facts_asn_range")),
        sa.PrimaryKeyConstraint("asn", name=op.f("pk_network_facts")),
    )
    op.create_table(
        "max_prefix_overrides",
        sa.Column("asn", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("max_prefix_v4", sa.Integer(), nullable=True),
        sa.Column("max_prefix_v6", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_ASN_RANGE, name=op.f("ck_max_prefix_overrides_asn_range")),
        sa.CheckConstraint(
            "max_prefix_v4 IS NOT NULL OR max_prefix_v6 IS NOT NULL",
            name=op.f("ck_max_prefix_overrides_one_family"),
        ),
        sa.CheckConstraint(
            "(max_prefix_v4 IS NULL OR max_prefix_v4 >= 1) "
            "AND (max_prefix_v6 IS NULL OR max_prefix_v6 >= 1)",
            name=op.f("ck_max_prefix_overrides_positive"),
        ),
        sa.PrimaryKeyConstraint("asn", name=op.f("pk_max_prefix_overrides")),
    )


def downgrade() -> None:
    op.drop_table("max_prefix_overrides")
    op.drop_table("network_facts")
