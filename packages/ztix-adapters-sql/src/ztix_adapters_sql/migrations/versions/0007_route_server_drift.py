"""route_server_state.drift / drift_checked_at: what the last route-server drift check
found differing (file and protocol names, never contents) and when it ran.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("route_server_state") as batch:
        batch.add_column(sa.Column("drift", sa.Text(), nullable=True))
        batch.add_column(sa.Column("drift_checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("route_server_state") as batch:
        batch.drop_column("drift_checked_at")
        batch.drop_column("drift")
