"""Users, their password hashes, their ASN links and their network restrictions."""

from __future__ import annotations

import builtins
import uuid

from sqlalchemy import delete, select, update

from ztix_adapters_sql.mapping import (
    asn_link_record,
    asn_link_values,
    user_record,
    user_values,
    username_key,
)
from ztix_adapters_sql.models import (
    AsnLinkRow,
    CredentialRow,
    NetworkAccessRow,
    NetworkRow,
    UserRow,
)
from ztix_adapters_sql.repositories._base import SqlRepository, upsert, violation_error
from ztix_core.errors import DuplicateRecord, NotFound
from ztix_core.records import AsnLink, NetworkAccess, User
from ztix_core.values import Asn, NetworkId


class SqlUserRepository(SqlRepository):
    """Users; usernames unique lowercase (``username_key``), PeeringDB ids unique."""

    def _exists(self, user_id: uuid.UUID) -> bool:
        return self.session.scalar(select(UserRow.id).where(UserRow.id == user_id)) is not None

    def _refuse_taken(self, user: User, *, other_than: uuid.UUID | None = None) -> None:
        if user.username is not None:
            taken = self.get_by_username(user.username)
            if taken is not None and taken.id != other_than:
                raise DuplicateRecord(f"username {user.username!r} is taken", field="username")
        if user.peeringdb_id is not None:
            holder = self.get_by_peeringdb_id(user.peeringdb_id)
            if holder is not None and holder.id != other_than:
                raise DuplicateRecord(f"PeeringDB user {user.peeringdb_id} exists")

    def add(self, user: User) -> None:
        if self._exists(user.id):
            raise DuplicateRecord(f"user {user.id} exists")
        self._refuse_taken(user)
        violation = self._insert(UserRow, user_values(user), f"user {user.id}")
        if violation is None:
            return
        if violation.constraint == "uq_users_username_key":
            raise DuplicateRecord(f"username {user.username!r} is taken", field="username")
        raise violation_error(violation, f"user {user.id}")

    def get(self, user_id: uuid.UUID) -> User | None:
        row = self._get(UserRow, user_id)
        return user_record(row) if row is not None else None

    def get_by_username(self, username: str) -> User | None:
        row = self._first(select(UserRow).where(UserRow.username_key == username_key(username)))
        return user_record(row) if row is not None else None

    def get_by_peeringdb_id(self, peeringdb_id: int) -> User | None:
        row = self._first(select(UserRow).where(UserRow.peeringdb_id == peeringdb_id))
        return user_record(row) if row is not None else None

    def update(self, user: User) -> None:
        if not self._exists(user.id):
            raise NotFound(f"user {user.id} not found")
        self._refuse_taken(user, other_than=user.id)
        values = user_values(user)
        del values["id"]
        _, violation = self._guarded(
            update(UserRow).where(UserRow.id == user.id).values(**values), UserRow, values
        )
        if violation is not None:
            raise violation_error(violation, f"user {user.id}")

    def list(self) -> builtins.list[User]:
        users = [user_record(r) for r in self._all(select(UserRow))]
        return sorted(users, key=lambda u: (u.username or "", str(u.id)))


class SqlCredentialRepository(SqlRepository):
    """Password hashes, one per user."""

    def set(self, user_id: uuid.UUID, password_hash: str) -> None:
        if self.session.scalar(select(UserRow.id).where(UserRow.id == user_id)) is None:
            raise NotFound(f"user {user_id} not found")
        stmt = upsert(
            self.dialect,
            CredentialRow,
            {"user_id": user_id, "password_hash": password_hash},
            ["user_id"],
        )
        _, violation = self._guarded(stmt)
        if violation is not None:
            raise violation_error(violation, f"credential of user {user_id}")

    def get(self, user_id: uuid.UUID) -> str | None:
        return self.session.scalar(
            select(CredentialRow.password_hash).where(CredentialRow.user_id == user_id)
        )


class SqlAsnLinkRepository(SqlRepository):
    """Which ASNs a user may request for."""

    def add(self, link: AsnLink) -> None:
        if self.session.scalar(select(UserRow.id).where(UserRow.id == link.user_id)) is None:
            raise NotFound(f"user {link.user_id} not found")
        values = asn_link_values(link)
        stmt = upsert(self.dialect, AsnLinkRow, values, ["user_id", "asn"])
        _, violation = self._guarded(stmt, AsnLinkRow, values)
        if violation is not None:
            raise violation_error(violation, f"ASN link {link.asn} of user {link.user_id}")

    def remove(self, user_id: uuid.UUID, asn: Asn) -> None:
        self.session.execute(
            delete(AsnLinkRow).where(AsnLinkRow.user_id == user_id, AsnLinkRow.asn == asn.value)
        )

    def list_for_user(self, user_id: uuid.UUID) -> builtins.list[AsnLink]:
        rows = self._where(AsnLinkRow, user_id=user_id)
        return sorted((asn_link_record(r) for r in rows), key=lambda link: link.asn.value)


class SqlNetworkAccessRepository(SqlRepository):
    """Per-user network restrictions."""

    def grant(self, access: NetworkAccess) -> None:
        if self.session.scalar(select(UserRow.id).where(UserRow.id == access.user_id)) is None:
            raise NotFound(f"user {access.user_id} not found")
        network = self.session.scalar(
            select(NetworkRow.id).where(NetworkRow.id == access.network_id.value)
        )
        if network is None:
            raise NotFound(f"network {access.network_id} not found")
        values = {"user_id": access.user_id, "network_id": access.network_id.value}
        stmt = upsert(self.dialect, NetworkAccessRow, values, ["user_id", "network_id"])
        _, violation = self._guarded(stmt)
        if violation is not None:
            raise violation_error(violation, f"access of user {access.user_id}")

    def revoke(self, access: NetworkAccess) -> None:
        self.session.execute(
            delete(NetworkAccessRow).where(
                NetworkAccessRow.user_id == access.user_id,
                NetworkAccessRow.network_id == access.network_id.value,
            )
        )

    def list_for_user(self, user_id: uuid.UUID) -> builtins.list[NetworkAccess]:
        network_ids = self.session.scalars(
            select(NetworkAccessRow.network_id).where(NetworkAccessRow.user_id == user_id)
        ).all()
        return sorted(
            (NetworkAccess(user_id, NetworkId(n)) for n in network_ids),
            key=lambda a: a.network_id,
        )
