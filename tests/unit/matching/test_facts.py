"""ListingFacts keeps exactly the public fields reasons quote, per listing."""

from service.matching.facts import ListingFacts


def test_each_listing_gets_back_its_own_tags_area_and_direction():
    listings = [
        {"interests": ["books", "poetry"], "causes": ["literacy"], "area": "Easton"},
        {"interests": [], "causes": None, "direction": "give"},
        {"interests": ["poetry"], "causes": ["arts", "literacy"], "area": "Clifton"},
    ]
    facts = ListingFacts.of(listings)
    assert [facts.interests(i) for i in range(3)] == [["books", "poetry"], [], ["poetry"]]
    assert [facts.causes(i) for i in range(3)] == [["literacy"], [], ["arts", "literacy"]]
    assert [facts.area(i) for i in range(3)] == ["Easton", None, "Clifton"]
    assert list(facts.gives) == [False, True, False]
    assert len(facts.names) == 6  # each name stored once


def test_an_empty_catalogue_has_no_facts():
    facts = ListingFacts.of([])
    assert len(facts.area_code) == 0 and len(facts.interest_ptr) == 1
