"""Observations: what the worker last saw of the route servers (reachability, every member
BGP session) and of the controller (readiness checks), so the pages can show live state
without holding the route servers' SSH key or the controller's token.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route_server_observations",
        sa.Column("server", sa.String(length=100), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("sessions_total", sa.Integer(), nullable=False),
        sa.Column("sessions_established", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("server", name=op.f("pk_route_server_observations")),
    )
    op.create_table(
        "session_observations",
        sa.Column("server", sa.String(length=100), nullable=False),
        sa.Column("protocol", sa.String(length=100), nullable=False),
        sa.Column("asn", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("since", sa.String(length=40), nullable=False),
        sa.Column("info", sa.Text(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("filtered", sa.Integer(), nullable=False),
        sa.Column("exported", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("server", "protocol", name=op.f("pk_session_observations")),
    )
    op.create_index("ix_session_observations_asn", "session_observations", ["asn"])
    op.create_table(
        "controller_observations",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "checks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_controller_observations")),
    )


def downgrade() -> None:
    op.drop_table("controller_observations")
    op.drop_index("ix_session_observations_asn", table_name="session_observations")
    op.drop_table("session_observations")
    op.drop_table("route_server_observations")
