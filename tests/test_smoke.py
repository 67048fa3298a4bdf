"""The movies schema end to end in-process: create, query, relations."""

from tests.conftest import GraphQLClient


async def test_create_and_list(movies: GraphQLClient) -> None:
    await movies.data(
        'mutation { createPerson(data: {name: "Ridley Scott", movies: {create: '
        '[{title: "Alien", year: 1979}]}}) { id } }'
    )
    data = await movies.data("{ movies { title year director { name } } }")
    assert data == {
        "movies": [{"title": "Alien", "year": 1979, "director": {"name": "Ridley Scott"}}]
    }
