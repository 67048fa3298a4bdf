"""The schema built from a model: the generated root fields, object types and inputs, as a
client introspects them."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQLClient

TYPE_REF = "name kind ofType { name kind ofType { name kind ofType { name kind } } }"


def render(ref: dict[str, Any]) -> str:
    """An introspected type reference as SDL: ``[Movie!]!``."""
    if ref["kind"] == "NON_NULL":
        return render(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return f"[{render(ref['ofType'])}]"
    name: str = ref["name"]
    return name


async def signatures(client: GraphQLClient, type_name: str) -> dict[str, str]:
    """Each field of an object type (as a client introspects it) written as SDL."""
    data = await client.data(
        f"query($name: String!) {{ __type(name: $name) {{ fields {{ name"
        f" args {{ name type {{ {TYPE_REF} }} }} type {{ {TYPE_REF} }} }} }} }}",
        {"name": type_name},
    )
    result = {}
    for field in data["__type"]["fields"]:
        args = ", ".join(f"{a['name']}: {render(a['type'])}" for a in field["args"])
        result[field["name"]] = (
            f"({args}): {render(field['type'])}" if args else render(field["type"])
        )
    return result


async def input_fields(client: GraphQLClient, type_name: str) -> dict[str, str]:
    """Each field of an input type written as SDL."""
    data = await client.data(
        f"query($name: String!) {{ __type(name: $name) {{ inputFields {{ name"
        f" type {{ {TYPE_REF} }} }} }} }}",
        {"name": type_name},
    )
    return {f["name"]: render(f["type"]) for f in data["__type"]["inputFields"]}


async def test_generated_root_fields(movies: GraphQLClient) -> None:
    query = await signatures(movies, "Query")
    mutation = await signatures(movies, "Mutation")

    assert query["movie"] == "(id: ID!): Movie"
    assert query["movies"] == (
        "(where: MovieWhereInput, orderBy: [MovieOrderByInput!], first: Int, skip: Int): [Movie!]!"
    )
    assert query["moviesCount"] == "(where: MovieWhereInput): Int!"
    assert query["people"] == (
        "(where: PersonWhereInput, orderBy: [PersonOrderByInput!], first: Int, skip: Int):"
        " [Person!]!"
    )
    assert mutation["createMovie"] == "(data: MovieCreateInput!): Movie!"
    assert mutation["updateMovie"] == "(id: ID!, data: MovieUpdateInput!): Movie!"
    assert mutation["deleteMovie"] == "(id: ID!): Movie!"


async def test_generated_object_and_input_types(movies: GraphQLClient) -> None:
    movie = await signatures(movies, "Movie")
    person = await signatures(movies, "Person")

    assert movie["title"] == "String!"
    assert movie["tags"] == "[String!]"
    assert movie["genre"] == "Genre"
    assert movie["released"] == "DateTime"
    assert movie["extra"] == "JSON"
    assert movie["director"] == "Person"
    assert movie["createdAt"] == "DateTime!"
    assert person["movies"] == (
        "(where: MovieWhereInput, orderBy: [MovieOrderByInput!], first: Int, skip: Int): [Movie!]!"
    )
    assert await input_fields(movies, "MovieWhereUniqueInput") == {"id": "ID", "title": "String"}
    create = await input_fields(movies, "MovieCreateInput")
    assert create["title"] == "String!"
    assert create["seen"] == "Boolean"  # it has a default
    assert create["director"] == "PersonCreateOneInput"
    assert "id" not in create and "createdAt" not in create
    update = await input_fields(movies, "MovieUpdateInput")
    assert update["title"] == "String"
    assert update["director"] == "PersonUpdateOneInput"
    assert await input_fields(movies, "PersonCreateOneInput") == {
        "create": "PersonCreateInput",
        "connect": "PersonWhereUniqueInput",
    }
    assert await input_fields(movies, "PersonUpdateOneInput") == {
        "create": "PersonCreateInput",
        "connect": "PersonWhereUniqueInput",
        "disconnect": "Boolean",
    }
    assert await input_fields(movies, "MovieCreateManyInput") == {
        "create": "[MovieCreateInput!]",
        "connect": "[MovieWhereUniqueInput!]",
    }
    assert await input_fields(movies, "MovieUpdateManyInput") == {
        "create": "[MovieCreateInput!]",
        "connect": "[MovieWhereUniqueInput!]",
        "disconnect": "[MovieWhereUniqueInput!]",
        "set": "[MovieWhereUniqueInput!]",
    }
    where = await input_fields(movies, "MovieWhereInput")
    assert where["AND"] == where["OR"] == where["NOT"] == "[MovieWhereInput!]"
    assert where["director"] == "PersonWhereInput"
    assert where["title_in"] == "[String!]"
    assert where["released_gt"] == "DateTime"
    assert "tags" not in where and "extra" not in where
    person_where = await input_fields(movies, "PersonWhereInput")
    assert {"movies_some", "movies_every", "movies_none"} <= set(person_where)
