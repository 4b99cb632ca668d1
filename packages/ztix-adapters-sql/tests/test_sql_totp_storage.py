"""TOTP credentials and recovery codes on SQLite and PostgreSQL: the web storage contract's
TOTP part runs with the rest in test_sql_web_storage.py; here a refusal leaves every
table as it was."""

from __future__ import annotations

import pytest

from ztix_adapters_sql.testing import row_counts
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory
from ztix_core.errors import InvalidValue, NotFound
from ztix_core.testing import builders as b
from ztix_core.web_ports import TotpCredential


def test_totp_bad_input_changes_nothing(sql_factory: SqlUnitOfWorkFactory) -> None:
    user = b.user()
    with sql_factory() as uow:
        uow.users.add(user)
        uow.totp.put(TotpCredential(user.id, "JBSWY3DPEHPK3PXP", b.T0))
        uow.commit()
    before = row_counts(sql_factory.engine)
    with sql_factory() as uow:
        with pytest.raises(NotFound):
            uow.totp.put(TotpCredential(b.user().id, "JBSWY3DPEHPK3PXP", b.T0))
        with pytest.raises(InvalidValue):
            uow.totp.put(TotpCredential(user.id, "", b.T0))
        with pytest.raises(InvalidValue):
            uow.totp.set_recovery_codes(user.id, ["h", ""])
        with pytest.raises(NotFound):
            uow.totp.set_recovery_codes(b.user().id, ["h"])
        uow.commit()
    assert row_counts(sql_factory.engine) == before
