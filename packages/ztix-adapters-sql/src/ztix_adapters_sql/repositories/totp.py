"""TOTP secrets and recovery codes: the core's :class:`~ztix_core.web_ports.TotpRepository`
on SQL. Accepting a time step and using a recovery code are single conditional
``UPDATE``s, so two sign-ins racing with one code cannot both win."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, or_, select, update

from ztix_adapters_sql.models import TotpCredentialRow, TotpRecoveryCodeRow, UserRow
from ztix_adapters_sql.repositories._base import SqlRepository, upsert, violation_error
from ztix_core.errors import InvalidValue, NotFound
from ztix_core.web_ports import RecoveryCode, TotpCredential


def _record(row: TotpCredentialRow) -> TotpCredential:
    return TotpCredential(
        user_id=row.user_id,
        secret=row.secret,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        last_step=row.last_step,
    )


class SqlTotpRepository(SqlRepository):
    """TOTP credentials (one per user) and their recovery codes."""

    def get(self, user_id: uuid.UUID) -> TotpCredential | None:
        """The user's credential, or None."""
        row = self._get(TotpCredentialRow, user_id)
        return _record(row) if row is not None else None

    def put(self, credential: TotpCredential) -> None:
        """Create or replace the credential; NotFound for an unknown user."""
        if not credential.secret:
            raise InvalidValue("secret", "must not be empty")
        found = self.session.scalar(select(UserRow.id).where(UserRow.id == credential.user_id))
        if found is None:
            raise NotFound(f"user {credential.user_id} not found")
        values = {
            "user_id": credential.user_id,
            "secret": credential.secret,
            "created_at": credential.created_at,
            "confirmed_at": credential.confirmed_at,
            "last_step": credential.last_step,
        }
        stmt = upsert(self.dialect, TotpCredentialRow, values, ["user_id"])
        _, violation = self._guarded(stmt, TotpCredentialRow, values)
        if violation is not None:
            raise violation_error(violation, "TOTP credential")

    def accept_step(self, user_id: uuid.UUID, step: int) -> bool:
        """Raise ``last_step`` to ``step`` when it is newer; False otherwise."""
        result = self.session.execute(
            update(TotpCredentialRow)
            .where(
                TotpCredentialRow.user_id == user_id,
                or_(TotpCredentialRow.last_step.is_(None), TotpCredentialRow.last_step < step),
            )
            .values(last_step=step)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete(self, user_id: uuid.UUID) -> bool:
        """Remove the credential and its codes; False when there was none."""
        self.session.execute(
            delete(TotpRecoveryCodeRow)
            .where(TotpRecoveryCodeRow.user_id == user_id)
            .execution_options(synchronize_session=False)
        )
        result = self.session.execute(
            delete(TotpCredentialRow)
            .where(TotpCredentialRow.user_id == user_id)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def set_recovery_codes(self, user_id: uuid.UUID, code_hashes: Sequence[str]) -> None:
        """Replace the user's codes with fresh unused ones."""
        if any(not h for h in code_hashes):
            raise InvalidValue("code_hash", "must not be empty")
        if self._get(TotpCredentialRow, user_id) is None:
            raise NotFound(f"user {user_id} has no TOTP credential")
        self.session.execute(
            delete(TotpRecoveryCodeRow)
            .where(TotpRecoveryCodeRow.user_id == user_id)
            .execution_options(synchronize_session=False)
        )
        for index, code_hash in enumerate(code_hashes):
            values = {"user_id": user_id, "slot": index, "code_hash": code_hash}
            self._insert_or_raise(TotpRecoveryCodeRow, values, "recovery code")

    def recovery_codes(self, user_id: uuid.UUID) -> list[RecoveryCode]:
        """Every code of the user, by index."""
        rows = self._all(
            select(TotpRecoveryCodeRow)
            .where(TotpRecoveryCodeRow.user_id == user_id)
            .order_by(TotpRecoveryCodeRow.slot)
        )
        return [RecoveryCode(r.user_id, r.slot, r.code_hash, r.used_at) for r in rows]

    def use_recovery_code(self, user_id: uuid.UUID, index: int, at: dt.datetime) -> bool:
        """Mark the code used when it is unused; False otherwise."""
        result = self.session.execute(
            update(TotpRecoveryCodeRow)
            .where(
                TotpRecoveryCodeRow.user_id == user_id,
                TotpRecoveryCodeRow.slot == index,
                TotpRecoveryCodeRow.used_at.is_(None),
            )
            .values(used_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
