"""Two asks for matches at the same moment make one request (found by bench/load.py).

Asking while a request waits returns that request. Two asks in two API processes used to both
find nothing waiting and each make a request: two answers, two "ready" notes for one wait. The
interleaving is forced here: a transaction holds a lock that stops both inserts until both
asks are past their "anything waiting?" check (or, with the fix, waiting for the member's row).
"""

from __future__ import annotations

import random
import threading
import time

import pytest
import sqlalchemy as sa

from service.adapters.orm import MatchRequest
from service.demo.seed import member_payload
from service.domain.credentials import Principal, Role
from service.services import matching, members

pytestmark = pytest.mark.postgres


def blocked_behind(connection, holder_pid: int) -> set[int]:
    """Backends waiting, directly or through one another, for `holder_pid`'s locks."""
    waits = connection.execute(
        sa.text(
            "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity"
            " WHERE cardinality(pg_blocking_pids(pid)) > 0"
        )
    ).all()
    connection.rollback()  # pg_stat_activity is a snapshot taken once per transaction
    behind, grew = set(), True
    while grew:
        grew = False
        for pid, blockers in waits:
            if pid not in behind and ({holder_pid} | behind) & set(blockers):
                behind.add(pid)
                grew = True
    return behind


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_asks_at_the_same_moment_make_one_request(kindred):
    payload = member_payload(1, random.Random(3))
    payload["consents"] = {"matching": True}
    member_id = members.sign_up(kindred.uow(publish=False), payload).member.id
    caller = Principal(Role.MEMBER, member_id)
    answers, errors = [], []

    def ask():
        try:
            answers.append(matching.request_matches(kindred.uow(publish=False), caller).id)
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)

    with kindred.engine.connect() as holder, kindred.engine.connect() as watcher:
        holder.execute(sa.text("LOCK TABLE match_requests IN SHARE ROW EXCLUSIVE MODE"))
        holder_pid = holder.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        asks = [threading.Thread(target=ask) for _ in range(2)]
        for thread in asks:
            thread.start()
        deadline = time.monotonic() + 10
        while len(blocked_behind(watcher, holder_pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(blocked_behind(watcher, holder_pid)) == 2, "both asks should be waiting"
        holder.commit()  # releases the table lock: the asks go on
    for thread in asks:
        thread.join(timeout=10)

    assert not errors
    assert answers[0] == answers[1]
    with kindred.uow() as uow:
        made = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(MatchRequest)
            .where(MatchRequest.member_id == member_id)
        )
    assert made == 1
