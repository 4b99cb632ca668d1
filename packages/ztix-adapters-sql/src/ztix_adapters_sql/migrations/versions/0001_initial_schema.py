"""Initial schema: every table of the core's repositories, OAuth state, web sessions,
and the append-only guard on audit_events.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 22:59:15.351770
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target_type", sa.String(length=50), nullable=False),
        sa.Column("target_id", sa.String(length=200), nullable=False),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_events_id")),
    )
    op.create_index("ix_audit_events_action", "audit_events", ["action", "seq"], unique=False)
    op.create_index(
        "ix_audit_events_action_actor_at", "audit_events", ["action", "actor", "at"], unique=False
    )
    op.create_index(
        "ix_audit_events_target", "audit_events", ["target_type", "target_id", "seq"], unique=False
    )

    op.create_table(
        "networks",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ipv4_prefix", sa.String(length=18), nullable=False),
        sa.Column("ipv6_prefix", sa.String(length=43), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "length(id) = 16 AND ltrim(id, '0123456789abcdef') = ''",
            name=op.f("ck_networks_id_hex16"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
    )
    op.create_table(
        "oauth_states",
        sa.Column("state", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("nonce", sa.String(length=200), nullable=False),
        sa.Column("code_verifier", sa.String(length=200), nullable=False),
        sa.Column("redirect_to", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_oauth_states")),
    )
    op.create_index(
        op.f("ix_oauth_states_expires_at"), "oauth_states", ["expires_at"], unique=False
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", sa.String(length=200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["created_at", "id"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
        sqlite_where=sa.text("sent_at IS NULL"),
    )

    op.create_table(
        "route_server_state",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("desired_generation", sa.BigInteger(), nullable=False),
        sa.Column("applied_generation", sa.BigInteger(), nullable=False),
        sa.Column("desired_digest", sa.String(length=128), nullable=False),
        sa.Column("applied_digest", sa.String(length=128), nullable=False),
        sa.Column("attempted_generation", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_route_server_state")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=True),
        sa.Column("username_key", sa.String(length=150), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("verified_user", sa.Boolean(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("peeringdb_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(username IS NULL) = (username_key IS NULL)", name=op.f("ck_users_username_key")
        ),
        sa.CheckConstraint(
            "username_key IS NULL OR username_key = lower(username_key)",
            name=op.f("ck_users_username_key_lower"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("peeringdb_id", name=op.f("uq_users_peeringdb_id")),
        sa.UniqueConstraint("username_key", name=op.f("uq_users_username_key")),
    )
    op.create_table(
        "asn_links",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("asn", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("can_manage_sessions", sa.Boolean(), nullable=False),
        sa.Column("network_name", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("source IN ('peeringdb', 'local')", name=op.f("ck_asn_links_source")),
        sa.CheckConstraint("asn BETWEEN 1 AND 4294967294", name=op.f("ck_asn_links_asn_range")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_asn_links_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "asn", name=op.f("pk_asn_links")),
    )
    op.create_table(
        "credentials",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_credentials_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_credentials")),
    )
    op.create_table(
        "join_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("asn", sa.BigInteger(), nullable=False),
        sa.Column("network_id", sa.String(length=16), nullable=False),
        sa.Column("node_id", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("provisioned_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "length(node_id) = 10 AND ltrim(node_id, '0123456789abcdef') = ''",
            name=op.f("ck_join_requests_node_id_hex10"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'provisioning', 'active', 'failed', "
            "'deprovisioning', 'removed')",
            name=op.f("ck_join_requests_status"),
        ),
        sa.CheckConstraint("asn BETWEEN 1 AND 4294967294", name=op.f("ck_join_requests_asn_range")),
        sa.CheckConstraint("retry_count >= 0", name=op.f("ck_join_requests_retry_count")),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_join_requests_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_join_requests_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_requests")),
    )
    op.create_index(
        "ix_join_requests_asn_time", "join_requests", ["asn", "requested_at", "id"], unique=False
    )
    op.create_index(
        "ix_join_requests_node", "join_requests", ["network_id", "node_id"], unique=False
    )
    op.create_index(
        "ix_join_requests_queue",
        "join_requests",
        ["network_id", "status", "requested_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_join_requests_requested_at", "join_requests", ["requested_at", "id"], unique=False
    )
    op.create_index(
        "ix_join_requests_status_time",
        "join_requests",
        ["status", "requested_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_join_requests_user_time",
        "join_requests",
        ["user_id", "requested_at", "id"],
        unique=False,
    )
    op.create_index(
        "uq_join_requests_live",
        "join_requests",
        ["asn", "network_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('active', 'approved', 'pending', 'provisioning')"),
        sqlite_where=sa.text("status IN ('active', 'approved', 'pending', 'provisioning')"),
    )

    op.create_table(
        "network_access",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_network_access_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_network_access_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "network_id", name=op.f("pk_network_access")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("csrf_token", sa.String(length=128), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    op.create_index(
        op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"], unique=False
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"], unique=False)

    op.create_table(
        "ip_allocations",
        sa.Column("network_id", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=39), nullable=False),
        sa.Column("version", sa.SmallInteger(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("version IN (4, 6)", name=op.f("ck_ip_allocations_version")),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_ip_allocations_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["join_requests.id"],
            name=op.f("fk_ip_allocations_request_id_join_requests"),
        ),
        sa.PrimaryKeyConstraint("network_id", "address", name=op.f("pk_ip_allocations")),
    )
    op.create_index(
        op.f("ix_ip_allocations_request_id"), "ip_allocations", ["request_id"], unique=False
    )

    op.create_table(
        "memberships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.String(length=16), nullable=False),
        sa.Column("node_id", sa.String(length=10), nullable=False),
        sa.Column("asn", sa.BigInteger(), nullable=False),
        sa.Column("ipv4", sa.String(length=15), nullable=False),
        sa.Column("ipv6", sa.String(length=39), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("authorized", sa.Boolean(), nullable=False),
        sa.Column("config_generation", sa.BigInteger(), nullable=True),
        sa.Column("removal_generation", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "length(node_id) = 10 AND ltrim(node_id, '0123456789abcdef') = ''",
            name=op.f("ck_memberships_node_id_hex10"),
        ),
        sa.CheckConstraint("asn BETWEEN 1 AND 4294967294", name=op.f("ck_memberships_asn_range")),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_memberships_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["join_requests.id"],
            name=op.f("fk_memberships_request_id_join_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("request_id", name=op.f("uq_memberships_request_id")),
    )
    op.create_index(
        "uq_memberships_network_node", "memberships", ["network_id", "node_id"], unique=True
    )

    _create_audit_guard()


# The application never updates or deletes audit events; the database refuses it as well.
_PG_GUARD = """
CREATE FUNCTION ztix_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION ztix_audit_append_only()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION ztix_audit_append_only()",
)
_SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER audit_events_no_{op_name.lower()} BEFORE {op_name} ON audit_events "
    f"BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: {op_name} is not allowed'); END"
    for op_name in ("UPDATE", "DELETE")
)


def _create_audit_guard() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_PG_GUARD)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    elif dialect == "sqlite":
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def _drop_audit_guard() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS ztix_audit_append_only()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")


def downgrade() -> None:
    _drop_audit_guard()
    op.drop_index("uq_memberships_network_node", table_name="memberships")
    op.drop_table("memberships")
    op.drop_index(op.f("ix_ip_allocations_request_id"), table_name="ip_allocations")
    op.drop_table("ip_allocations")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_expires_at"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("network_access")
    op.drop_index(
        "uq_join_requests_live",
        table_name="join_requests",
        postgresql_where=sa.text("status IN ('active', 'approved', 'pending', 'provisioning')"),
        sqlite_where=sa.text("status IN ('active', 'approved', 'pending', 'provisioning')"),
    )
    op.drop_index("ix_join_requests_user_time", table_name="join_requests")
    op.drop_index("ix_join_requests_status_time", table_name="join_requests")
    op.drop_index("ix_join_requests_requested_at", table_name="join_requests")
    op.drop_index("ix_join_requests_queue", table_name="join_requests")
    op.drop_index("ix_join_requests_node", table_name="join_requests")
    op.drop_index("ix_join_requests_asn_time", table_name="join_requests")
    op.drop_table("join_requests")
    op.drop_table("credentials")
    op.drop_table("asn_links")
    op.drop_table("users")
    op.drop_table("route_server_state")
    op.drop_index(
        "ix_outbox_unsent",
        table_name="outbox",
        postgresql_where=sa.text("sent_at IS NULL"),
        sqlite_where=sa.text("sent_at IS NULL"),
    )
    op.drop_table("outbox")
    op.drop_index(op.f("ix_oauth_states_expires_at"), table_name="oauth_states")
    op.drop_table("oauth_states")
    op.drop_table("networks")
    op.drop_index("ix_audit_events_target", table_name="audit_events")
    op.drop_index("ix_audit_events_action_actor_at", table_name="audit_events")
    op.drop_index("ix_audit_events_action", table_name="audit_events")
    op.drop_table("audit_events")
