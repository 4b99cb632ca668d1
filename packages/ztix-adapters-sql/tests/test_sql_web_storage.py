"""Sessions and OAuth states: the core's web storage contract on SQLite and PostgreSQL,
and a refusal that leaves every table as it was."""

from __future__ import annotations

import datetime as dt

import pytest

from ztix_adapters_sql.testing import row_counts
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory
from ztix_core.errors import InvalidValue, NotFound
from ztix_core.testing import builders as b
from ztix_core.testing.web_storage_contract import *  # noqa: F403
from ztix_core.web_ports import WebSession

T0 = b.T0
LATER = T0 + dt.timedelta(minutes=10)


def test_web_session_bad_input_changes_nothing(sql_factory: SqlUnitOfWorkFactory) -> None:
    before = row_counts(sql_factory.engine)
    with sql_factory() as uow:
        with pytest.raises(NotFound):
            uow.web_sessions.create(WebSession("h", "c", T0, T0, LATER, user_id=b.user().id))
        with pytest.raises(InvalidValue):
            uow.web_sessions.create(WebSession("", "c", T0, T0, LATER))
        uow.commit()
    assert row_counts(sql_factory.engine) == before
