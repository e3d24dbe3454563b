"""Give and receive: the member's own balance, and one suggestion of the other kind when it is
lopsided, with a reason that says so; nothing changes for a balanced member."""

from __future__ import annotations

import pytest

from service.services.balance import REASONS, Balance
from tests.integration.api.conftest import listing_body, run_worker, sign_up
from tests.integration.api.test_attendance import say_yes
from tests.integration.api.test_matches_pipeline import jobs_use_this_service  # noqa: F401

pytestmark = pytest.mark.usefixtures("jobs_use_this_service")

CONSENTING = {"consents": {"matching": True, "peer_introductions": False}}
RECEIVING = [
    "Gentle garden club", "Garden cookery class", "Seed swap circle", "Garden talks",
    "Allotment mornings", "Compost clinic", "Herb walk", "Kitchen garden supper",
]  # fmt: skip


@pytest.mark.parametrize(
    ("giving", "receiving", "leaning"),
    [(0, 0, None), (0, 2, None), (0, 3, "receiving"), (1, 3, "receiving"), (2, 3, None),
     (3, 0, "giving"), (4, 2, None), (6, 2, "giving")],
)  # fmt: skip
def test_a_balance_leans_only_when_one_side_is_three_times_the_other(giving, receiving, leaning):
    assert Balance(giving, receiving).leaning == leaning


@pytest.fixture
def catalogue(verified_partner) -> dict[str, int]:
    """Eight gardening groups to receive from, and one volunteering role that fits less well."""
    ids = {}
    for title in RECEIVING:
        body = listing_body(title=title, interests=["gardening", "food"])
        ids[title] = verified_partner.post("/api/v1/listings", json=body).json["id"]
    volunteer = listing_body(
        title="Help at the food bank",
        kind="volunteer_role",
        direction="give",
        interests=["food"],
        causes=["community"],
    )
    ids["food bank"] = verified_partner.post("/api/v1/listings", json=volunteer).json["id"]
    return ids


def groups_offered(member) -> list[dict]:
    return member.get("/api/v1/members/me/suggestions").json["groups"]


def ask(kindred, member) -> list[dict]:
    assert member.post("/api/v1/members/me/match-requests").status_code == 202
    run_worker(kindred)
    return groups_offered(member)


def test_a_member_who_only_receives_is_offered_one_chance_to_give(app, kindred, catalogue):
    ann = sign_up(app, interests=["gardening", "food"], **CONSENTING)
    run_worker(kindred)  # the catalogue's fan-out and her first re-match
    before = ask(kindred, ann)
    assert len(before) == 5
    titles = [g["listing"]["title"] for g in before]
    assert "Help at the food bank" not in titles  # it fits her less than the gardening groups

    for group in before[:3]:
        answered = ann.post(f"/api/v1/suggestions/{group['id']}/response", json={"answer": "yes"})
        assert answered.status_code == 200
    assert ann.get("/api/v1/members/me/balance").json == {
        "giving": 0, "receiving": 3, "leaning": "receiving", "days": 90
    }  # fmt: skip

    after = ask(kindred, ann)
    (given,) = [g for g in after if g["listing"]["title"] == "Help at the food bank"]
    assert given["reasons"][0] == REASONS["receiving"]
    assert len(after) <= 5  # one of the other kind, not one more
    assert sum(REASONS["receiving"] in g["reasons"] for g in after) == 1


def test_a_balanced_member_gets_the_best_fits_only(app, kindred, catalogue):
    bob = sign_up(app, email="bob@example.org", interests=["gardening", "food"], **CONSENTING)
    say_yes(kindred, bob, catalogue[RECEIVING[0]], share_contact=False)
    say_yes(kindred, bob, catalogue["food bank"], share_contact=False)  # one each: balanced
    assert bob.get("/api/v1/members/me/balance").json["leaning"] is None
    offered = ask(kindred, bob)
    assert len(offered) == 5
    for group in offered:
        assert not any(reason in group["reasons"] for reason in REASONS.values())


def test_the_balance_is_the_members_own(app, member, verified_partner, anonymous):
    assert member.get("/api/v1/members/me/balance").json == {
        "giving": 0, "receiving": 0, "leaning": None, "days": 90
    }  # fmt: skip
    assert verified_partner.get("/api/v1/members/me/balance").status_code == 403
    assert anonymous.get("/api/v1/members/me/balance").status_code == 401
