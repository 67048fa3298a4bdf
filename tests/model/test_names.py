"""Generated GraphQL names: one home for the names the schema, resolvers and checks share."""

from __future__ import annotations

import pytest

from bastion.model.names import names_for, plural


@pytest.mark.parametrize(
    ("singular", "expected"),
    [
        ("Movie", "Movies"),
        ("Person", "People"),
        ("Category", "Categories"),
        ("Address", "Addresses"),
        ("Child", "Children"),
        ("MovieTag", "MovieTags"),
        ("UserProfile", "UserProfiles"),
        # A plural equal to the singular would make one root field mean both one and many.
        ("Sheep", "SheepList"),
        ("Series", "SeriesList"),
        ("News", "NewsList"),
    ],
)
def test_plural(singular: str, expected: str) -> None:
    assert plural(singular) == expected


def test_names_for_a_type() -> None:
    movie = names_for("Movie")
    assert movie.root_fields == (
        "movie",
        "movies",
        "moviesCount",
        "createMovie",
        "updateMovie",
        "deleteMovie",
    )
    assert movie.where == "MovieWhereInput"
    assert movie.order_by == "MovieOrderByInput"
    assert movie.input_types == (
        "MovieWhereInput",
        "MovieWhereUniqueInput",
        "MovieOrderByInput",
        "MovieCreateInput",
        "MovieUpdateInput",
        "MovieCreateOneInput",
        "MovieCreateManyInput",
        "MovieUpdateOneInput",
        "MovieUpdateManyInput",
    )


def test_names_for_a_compound_type() -> None:
    tag = names_for("MovieTag")
    assert (tag.single, tag.many, tag.count) == ("movieTag", "movieTags", "movieTagsCount")
    person = names_for("Person")
    assert (person.single, person.many, person.count) == ("person", "people", "peopleCount")
    sheep = names_for("Sheep")
    assert (sheep.single, sheep.many) == ("sheep", "sheepList")
