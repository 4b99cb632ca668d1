"""TOTP for local accounts: each user's secret (pending until the first valid code, then
active, with the newest accepted time step) and their single-use recovery codes (hashed).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "totp_credentials",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("length(secret) > 0", name=op.f("ck_totp_credentials_secret_not_empty")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_totp_credentials_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_totp_credentials")),
    )
    op.create_table(
        "totp_recovery_codes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("code_hash", sa.Text(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "length(code_hash) > 0", name=op.f("ck_totp_recovery_codes_code_hash_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["totp_credentials.user_id"],
            name=op.f("fk_totp_recovery_codes_user_id_totp_credentials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "slot", name=op.f("pk_totp_recovery_codes")),
    )


def downgrade() -> None:
    op.drop_table("totp_recovery_codes")
    op.drop_table("totp_credentials")
