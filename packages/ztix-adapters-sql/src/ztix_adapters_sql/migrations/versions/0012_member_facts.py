"""Per-member settings an admin sets: a display name for the route servers' descriptions,
max-prefix limits that win over every other source, and fixed peering-LAN addresses
chosen at approval (one row per join request at most).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_facts",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=True),
        sa.Column("max_prefix_v4", sa.Integer(), nullable=True),
        sa.Column("max_prefix_v6", sa.Integer(), nullable=True),
        sa.Column("ipv4", sa.String(length=15), nullable=True),
        sa.Column("ipv6", sa.String(length=39), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "(max_prefix_v4 IS NULL OR max_prefix_v4 BETWEEN 1 AND 10000000) "
            "AND (max_prefix_v6 IS NULL OR max_prefix_v6 BETWEEN 1 AND 10000000)",
            name=op.f("ck_member_facts_max_prefix_range"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["join_requests.id"],
            name=op.f("fk_member_facts_request_id_join_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_member_facts")),
    )


def downgrade() -> None:
    op.drop_table("member_facts")
