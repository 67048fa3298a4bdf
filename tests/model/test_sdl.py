"""schema.graphql -> the model: what a valid model becomes, and every message a bad one gets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bastion.errors import Code, ProjectError
from bastion.model import (
    Model,
    OnDelete,
    Relation,
    RelationField,
    ScalarField,
    ScalarKind,
    parse_model,
)


def problems(sdl: str, file_name: str = "schema.graphql") -> list[str]:
    """The problem lines a bad model is refused with."""
    with pytest.raises(ProjectError) as caught:
        parse_model(sdl, file_name)
    return caught.value.problems


def scalar(model: Model, type_name: str, field_name: str) -> ScalarField:
    field = model.type(type_name).fields[field_name]
    assert isinstance(field, ScalarField)
    return field


def relation_field(model: Model, type_name: str, field_name: str) -> RelationField:
    field = model.type(type_name).fields[field_name]
    assert isinstance(field, RelationField)
    return field


def only_relation(model: Model) -> Relation:
    assert len(model.relations) == 1, model.relations
    return model.relations[0]


# -- scalars, enums, lists, directives ---------------------------------------------------------


def test_every_scalar_kind_with_required_and_optional() -> None:
    model = parse_model(
        """
        type Movie {
          title: String!
          year: Int
          rating: Float!
          seen: Boolean
          released: DateTime
          extra: JSON!
        }
        """
    )
    movie = model.type("Movie")
    assert list(movie.fields) == ["id", "title", "year", "rating", "seen", "released", "extra"]
    got = {f.name: (f.kind, f.required, f.is_list) for f in movie.scalars}
    assert got == {
        "id": (ScalarKind.ID, True, False),
        "title": (ScalarKind.STRING, True, False),
        "year": (ScalarKind.INT, False, False),
        "rating": (ScalarKind.FLOAT, True, False),
        "seen": (ScalarKind.BOOLEAN, False, False),
        "released": (ScalarKind.DATETIME, False, False),
        "extra": (ScalarKind.JSON, True, False),
    }
    assert movie.relations == []
    assert not movie.builtin


def test_declared_id_keeps_its_place() -> None:
    model = parse_model("type Movie { title: String id: ID! }")
    assert list(model.type("Movie").fields) == ["title", "id"]
    assert scalar(model, "Movie", "id").managed


def test_timestamps_are_managed_by_the_server() -> None:
    model = parse_model("type Movie { title: String createdAt: DateTime! updatedAt: DateTime }")
    assert scalar(model, "Movie", "createdAt").managed
    assert scalar(model, "Movie", "updatedAt").managed
    assert not scalar(model, "Movie", "title").managed


def test_enums_and_enum_fields() -> None:
    model = parse_model(
        """
        enum Genre { ACTION DRAMA SCI_FI }
        type Movie { genre: Genre! genres: [Genre!] }
        """
    )
    assert model.enums == {"Genre": ["ACTION", "DRAMA", "SCI_FI"]}
    genre = scalar(model, "Movie", "genre")
    assert (genre.kind, genre.enum, genre.required, genre.is_list) == (
        ScalarKind.ENUM,
        "Genre",
        True,
        False,
    )
    genres = scalar(model, "Movie", "genres")
    assert (genres.kind, genres.enum, genres.is_list) == (ScalarKind.ENUM, "Genre", True)


@pytest.mark.parametrize(
    ("declared", "kind", "required"),
    [
        ("[String!]", ScalarKind.STRING, False),
        ("[String]", ScalarKind.STRING, False),
        ("[Int!]!", ScalarKind.INT, True),
        ("[Float]!", ScalarKind.FLOAT, True),
        ("[Boolean!]", ScalarKind.BOOLEAN, False),
        ("[DateTime!]", ScalarKind.DATETIME, False),
        ("[JSON]", ScalarKind.JSON, False),
    ],
)
def test_lists_of_scalars(declared: str, kind: ScalarKind, required: bool) -> None:
    model = parse_model(f"type Movie {{ values: {declared} }}")
    values = scalar(model, "Movie", "values")
    assert (values.kind, values.is_list, values.required) == (kind, True, required)
    assert not values.comparable


def test_json_is_not_comparable_but_other_scalars_are() -> None:
    model = parse_model("type Movie { extra: JSON year: Int }")
    assert not scalar(model, "Movie", "extra").comparable
    assert scalar(model, "Movie", "year").comparable


def test_unique() -> None:
    model = parse_model("type Movie { title: String! @unique year: Int @unique note: String }")
    assert scalar(model, "Movie", "title").unique
    assert scalar(model, "Movie", "year").unique
    assert not scalar(model, "Movie", "note").unique


GENRE = "enum Genre { ACTION DRAMA }"


@pytest.mark.parametrize(
    ("declared", "literal", "expected"),
    [
        ("String", '"untitled"', "untitled"),
        ("String!", '""', ""),
        ("Int", "42", 42),
        ("Int", "-2147483648", -(2**31)),
        ("Int", "2147483647", 2**31 - 1),
        ("Float", "2.5", 2.5),
        ("Float", "2", 2.0),
        ("Boolean!", "true", True),
        ("Boolean", "false", False),
        ("DateTime", '"2024-05-01T12:00:00Z"', datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("DateTime", '"2024-05-01T14:00:00+02:00"', datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("DateTime", '"2024-05-01T12:00:00"', datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("JSON", '{a: [1, "two"], b: null}', {"a": [1, "two"], "b": None}),
        ("JSON", '"text"', "text"),
        ("Genre", "DRAMA", "DRAMA"),
        ("[String!]", '["a", "b"]', ["a", "b"]),
        ("[Int!]!", "[]", []),
        ("[Genre!]", "[ACTION, DRAMA]", ["ACTION", "DRAMA"]),
    ],
)
def test_valid_defaults(declared: str, literal: str, expected: Any) -> None:
    model = parse_model(f"{GENRE}\ntype Movie {{ value: {declared} @default(value: {literal}) }}")
    value = scalar(model, "Movie", "value")
    assert value.has_default
    assert value.default == expected
    assert type(value.default) is type(expected)


def test_no_default_means_none() -> None:
    model = parse_model("type Movie { title: String }")
    title = scalar(model, "Movie", "title")
    assert (title.has_default, title.default) == (False, None)


@pytest.mark.parametrize(
    ("declared", "literal", "reason"),
    [
        ("String", "1", "expected a String value, got 1"),
        ("String", "[]", "expected a String value, got []"),
        ("Int", '"1"', "expected an Int value, got '1'"),
        ("Int", "2.5", "expected an Int value, got 2.5"),
        ("Int", "true", "expected an Int value, got True"),
        ("Int", "2147483648", "Int values are 32-bit"),
        ("Float", '"2.5"', "expected a Float value, got '2.5'"),
        ("Float", "false", "expected a Float value, got False"),
        ("Boolean", "1", "expected a Boolean value, got 1"),
        ("Boolean", '"true"', "expected a Boolean value, got 'true'"),
        (
            "DateTime",
            '"yesterday"',
            "expected an ISO 8601 date-time such as 2024-05-01T12:00:00Z, got 'yesterday'",
        ),
        ("DateTime", "1714564800", "expected a DateTime value, got 1714564800"),
        ("Genre", "COMEDY", "expected one of ACTION, DRAMA"),
        ("String", "null", "expected a value, got null"),
        ("JSON", "null", "expected a value, got null"),
        ("[String!]", '"a"', "expected a list"),
        ("[Int!]", '[1, "2"]', "expected an Int value, got '2'"),
        ("[Genre!]", "[ACTION, COMEDY]", "expected one of ACTION, DRAMA"),
    ],
)
def test_invalid_defaults(declared: str, literal: str, reason: str) -> None:
    sdl = f"{GENRE}\ntype Movie {{ value: {declared} @default(value: {literal}) }}"
    assert problems(sdl) == [f"schema.graphql:2:14: @default on Movie.value: {reason}"]


def test_default_without_a_value() -> None:
    assert problems("type Movie {\n  title: String @default\n}") == [
        "schema.graphql:2:3: @default on Movie.title needs a `value` argument"
    ]


def test_default_on_a_managed_field() -> None:
    sdl = 'type Movie {\n  title: String\n  createdAt: DateTime! @default(value: "2024-01-01")\n}'
    assert problems(sdl) == [
        "schema.graphql:3:3: Movie.createdAt is set by the server and takes no @default"
    ]


# -- relations ---------------------------------------------------------------------------------


def test_to_one_and_to_many_pair_into_one_relation() -> None:
    model = parse_model(
        """
        type Movie { title: String director: Person }
        type Person { name: String movies: [Movie!]! }
        """
    )
    relation = only_relation(model)
    assert relation == Relation(
        name="Movie.director",
        holder="Movie",
        holder_field="director",
        target="Person",
        target_field="movies",
        target_many=True,
        column="directorId",
        required=False,
        on_delete=OnDelete.SET_NULL,
    )
    director = relation_field(model, "Movie", "director")
    assert (director.target, director.many, director.required, director.holds_key) == (
        "Person",
        False,
        False,
        True,
    )
    movies = relation_field(model, "Person", "movies")
    # `[Movie!]!` is a list that is never null, not a relation that must have members.
    assert (movies.target, movies.many, movies.required, movies.holds_key) == (
        "Movie",
        True,
        False,
        False,
    )
    assert director.relation is movies.relation
    assert model.type("Movie").foreign_keys == [relation]
    assert model.type("Person").foreign_keys == []
    assert model.pointing_at("Person") == [relation]
    assert model.pointing_at("Movie") == []


def test_relation_fields_keep_declaration_order() -> None:
    model = parse_model(
        """
        type Movie { director: Person title: String year: Int }
        type Person { movies: [Movie!]! name: String }
        """
    )
    assert list(model.type("Movie").fields) == ["id", "director", "title", "year"]
    assert list(model.type("Person").fields) == ["id", "movies", "name"]


def test_the_back_side_can_be_declared_first() -> None:
    model = parse_model(
        """
        type Person { name: String movies: [Movie!]! }
        type Movie { title: String director: Person! }
        """
    )
    relation = only_relation(model)
    assert (relation.holder, relation.holder_field, relation.target_field) == (
        "Movie",
        "director",
        "movies",
    )


def test_a_required_to_one_defaults_to_restrict() -> None:
    model = parse_model(
        """
        type Movie { title: String director: Person! }
        type Person { name: String movies: [Movie!]! }
        """
    )
    relation = only_relation(model)
    assert (relation.required, relation.on_delete) == (True, OnDelete.RESTRICT)
    assert relation_field(model, "Movie", "director").required


@pytest.mark.parametrize("declared", ["Person", "Person!"])
@pytest.mark.parametrize("rule", ["CASCADE", "RESTRICT"])
def test_on_delete_cascade_and_restrict(declared: str, rule: str) -> None:
    model = parse_model(
        f"""
        type Movie {{ title: String director: {declared} @relation(onDelete: {rule}) }}
        type Person {{ name: String movies: [Movie!]! }}
        """
    )
    assert only_relation(model).on_delete is OnDelete(rule)


def test_on_delete_set_null_on_an_optional_to_one() -> None:
    model = parse_model(
        """
        type Movie { title: String director: Person @relation(onDelete: SET_NULL) }
        type Person { name: String }
        """
    )
    assert only_relation(model).on_delete is OnDelete.SET_NULL


def test_one_sided_to_one() -> None:
    model = parse_model(
        """
        type Movie { title: String director: Person }
        type Person { name: String }
        """
    )
    relation = only_relation(model)
    assert (relation.holder, relation.holder_field, relation.target, relation.target_field) == (
        "Movie",
        "director",
        "Person",
        None,
    )
    assert relation.target_many
    assert list(model.type("Person").fields) == ["id", "name"]


def test_one_sided_to_many_keeps_a_hidden_key_on_the_target() -> None:
    model = parse_model(
        """
        type Movie { title: String }
        type Person { name: String movies: [Movie!]! }
        """
    )
    relation = only_relation(model)
    assert relation == Relation(
        name="Person.movies",
        holder="Movie",
        holder_field=None,
        target="Person",
        target_field="movies",
        target_many=True,
        column="_Person_movies",
        required=False,
        on_delete=OnDelete.SET_NULL,
    )
    assert list(model.type("Movie").fields) == ["id", "title"]
    assert model.type("Movie").hidden_keys == [relation]
    assert model.type("Movie").foreign_keys == [relation]
    assert not relation_field(model, "Person", "movies").holds_key


def test_self_relation_pairs_its_two_sides() -> None:
    model = parse_model("type Person { name: String mentor: Person mentees: [Person!]! }")
    relation = only_relation(model)
    assert (relation.holder, relation.holder_field, relation.target, relation.target_field) == (
        "Person",
        "mentor",
        "Person",
        "mentees",
    )
    assert relation.column == "mentorId"


def test_one_sided_self_relations() -> None:
    model = parse_model("type Movie { title: String remakeOf: Movie }")
    relation = only_relation(model)
    assert (relation.holder_field, relation.target_field) == ("remakeOf", None)

    model = parse_model("type Movie { title: String remakes: [Movie!]! }")
    relation = only_relation(model)
    assert (relation.holder_field, relation.target_field) == (None, "remakes")
    assert model.type("Movie").hidden_keys == [relation]


def test_named_self_relation_one_to_one() -> None:
    model = parse_model(
        """
        type Movie {
          title: String
          sequel: Movie @relation(name: "Sequel")
          prequel: Movie @relation(name: "Sequel")
        }
        """
    )
    relation = only_relation(model)
    assert relation.name == "Sequel"
    assert relation.target_many is False
    assert {relation.holder_field, relation.target_field} == {"sequel", "prequel"}


def test_one_to_one_key_is_on_the_required_side() -> None:
    model = parse_model(
        """
        type Movie { title: String poster: Poster }
        type Poster { url: String movie: Movie! }
        """
    )
    relation = only_relation(model)
    assert (relation.holder, relation.holder_field, relation.target_field) == (
        "Poster",
        "movie",
        "poster",
    )
    assert (relation.target_many, relation.required, relation.on_delete) == (
        False,
        True,
        OnDelete.RESTRICT,
    )
    assert relation_field(model, "Poster", "movie").holds_key
    assert not relation_field(model, "Movie", "poster").holds_key


def test_one_to_one_key_is_on_the_side_given_on_delete() -> None:
    # "Delete a poster when its movie goes" must not become "delete the movie with its poster".
    model = parse_model(
        """
        type Movie { title: String poster: Poster }
        type Poster { url: String movie: Movie @relation(onDelete: CASCADE) }
        """
    )
    relation = only_relation(model)
    assert (relation.holder, relation.holder_field, relation.on_delete) == (
        "Poster",
        "movie",
        OnDelete.CASCADE,
    )


def test_one_to_one_between_optional_sides_has_one_key() -> None:
    model = parse_model(
        """
        type Movie { title: String poster: Poster }
        type Poster { url: String movie: Movie }
        """
    )
    relation = only_relation(model)
    assert relation.target_many is False
    holders = [
        (t, f.name) for t in ("Movie", "Poster") for f in model.type(t).relations if f.holds_key
    ]
    assert holders == [(relation.holder, relation.holder_field)]


def test_named_relations_between_the_same_types() -> None:
    model = parse_model(
        """
        type Movie {
          title: String
          director: Person @relation(name: "Directed")
          writer: Person @relation(name: "Wrote", onDelete: CASCADE)
        }
        type Person {
          name: String
          directed: [Movie!]! @relation(name: "Directed")
          wrote: [Movie!]! @relation(name: "Wrote")
        }
        """
    )
    got = {(r.name, r.holder_field, r.target_field, r.column, r.on_delete) for r in model.relations}
    assert got == {
        ("Directed", "director", "directed", "directorId", OnDelete.SET_NULL),
        ("Wrote", "writer", "wrote", "writerId", OnDelete.CASCADE),
    }


def test_on_delete_may_be_a_string() -> None:
    model = parse_model(
        """
        type Movie { title: String director: Person @relation(onDelete: "CASCADE") }
        type Person { name: String }
        """
    )
    assert only_relation(model).on_delete is OnDelete.CASCADE


# -- the built-in User -------------------------------------------------------------------------


def test_every_project_has_the_built_in_user() -> None:
    model = parse_model("type Movie { title: String }")
    user = model.type("User")
    assert user.builtin
    got = {f.name: (f.kind, f.required, f.unique) for f in user.scalars}
    assert got == {
        "id": (ScalarKind.ID, True, False),
        "email": (ScalarKind.STRING, False, True),
        "username": (ScalarKind.STRING, False, True),
        "firstName": (ScalarKind.STRING, False, False),
        "lastName": (ScalarKind.STRING, False, False),
        "isActive": (ScalarKind.BOOLEAN, True, False),
        "createdAt": (ScalarKind.DATETIME, True, False),
        "updatedAt": (ScalarKind.DATETIME, True, False),
    }
    assert scalar(model, "User", "isActive").default is True
    assert list(model.types) == ["User", "Movie"]


def test_extend_type_user_adds_fields_and_relations() -> None:
    model = parse_model(
        """
        extend type User {
          nickname: String @unique
          posts: [Post!]!
        }
        type Post { text: String! author: User! @relation(onDelete: CASCADE) }
        """
    )
    user = model.type("User")
    assert list(user.fields)[-2:] == ["nickname", "posts"]
    assert user.builtin
    assert scalar(model, "User", "nickname").unique
    relation = only_relation(model)
    assert (relation.holder, relation.holder_field, relation.target, relation.target_field) == (
        "Post",
        "author",
        "User",
        "posts",
    )
    assert relation.on_delete is OnDelete.CASCADE


def test_a_project_type_may_extend_itself() -> None:
    model = parse_model("type Movie { title: String }\nextend type Movie { year: Int }")
    assert list(model.type("Movie").fields) == ["id", "title", "year"]


# -- bad models --------------------------------------------------------------------------------

BAD_MODELS = [
    pytest.param(
        "type Movie {\n  title: String\n",
        ["schema.graphql:3:1: syntax error: Expected Name, found <EOF>."],
        id="syntax-error-at-eof",
    ),
    pytest.param(
        "type Movie {\n  title String\n}",
        ["schema.graphql:2:9: syntax error: Expected ':', found Name 'String'."],
        id="syntax-error-missing-colon",
    ),
    pytest.param(
        "type Movie { }",
        ["schema.graphql:1:14: syntax error: Expected Name, found '}'."],
        id="syntax-error-empty-type",
    ),
    pytest.param(
        'type Movie {\n  title: String @default(value: "open\n}',
        ["schema.graphql:2:38: syntax error: Unterminated string."],
        id="syntax-error-unterminated-string",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  director: Persn\n}",
        ["schema.graphql:3:3: unknown type 'Persn' for field Movie.director"],
        id="unknown-type",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  cast: [Actor!]!\n}",
        ["schema.graphql:3:3: unknown type 'Actor' for field Movie.cast"],
        id="unknown-type-in-list",
    ),
    pytest.param(
        'type Movie {\n  title: String\n  director: Persn @relation(name: "Directed")\n}',
        ["schema.graphql:3:3: unknown type 'Persn' for field Movie.director"],
        id="relation-without-a-target",
    ),
    pytest.param(
        "type Movie {\n  title: String\n}\n\ntype Movie {\n  year: Int\n}",
        ["schema.graphql:5:6: duplicate type 'Movie' (first defined at schema.graphql:1:6)"],
        id="duplicate-type",
    ),
    pytest.param(
        "enum Movie { A }\ntype Movie { title: String }",
        ["schema.graphql:2:6: duplicate type 'Movie' (first defined at schema.graphql:1:6)"],
        id="duplicate-type-and-enum",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  year: Int\n  title: String!\n}",
        ["schema.graphql:4:3: duplicate field 'Movie.title' (first defined at schema.graphql:2:3)"],
        id="duplicate-field",
    ),
    pytest.param(
        "type Movie { title: String }\nextend type Movie {\n  title: String\n}",
        [
            "schema.graphql:3:3: duplicate field 'Movie.title' "
            "(first defined at schema.graphql:1:14)"
        ],
        id="duplicate-field-in-extension",
    ),
    pytest.param(
        "extend type User {\n  email: String\n}",
        ["schema.graphql:2:3: duplicate field 'User.email' (first defined at <built-in User>:4:3)"],
        id="duplicate-built-in-user-field",
    ),
    pytest.param(
        "type User {\n  name: String\n}",
        ["schema.graphql:1:6: type 'User' is built in; add fields to it with `extend type User`"],
        id="type-user",
    ),
    pytest.param(
        "extend type Film {\n  year: Int\n}",
        ["schema.graphql:1:13: cannot extend unknown type 'Film'"],
        id="extend-unknown-type",
    ),
    pytest.param(
        "type Query { title: String }",
        ["schema.graphql:1:6: 'Query' is a reserved name and cannot name a type"],
        id="reserved-query",
    ),
    pytest.param(
        "type Mutation { title: String }",
        ["schema.graphql:1:6: 'Mutation' is a reserved name and cannot name a type"],
        id="reserved-mutation",
    ),
    pytest.param(
        "type Viewer { title: String }",
        ["schema.graphql:1:6: 'Viewer' is a reserved name and cannot name a type"],
        id="reserved-viewer",
    ),
    pytest.param(
        "type Session { title: String }",
        ["schema.graphql:1:6: 'Session' is a reserved name and cannot name a type"],
        id="reserved-session",
    ),
    pytest.param(
        "enum DateTime { A }",
        ["schema.graphql:1:6: 'DateTime' is a reserved name and cannot name an enum"],
        id="reserved-scalar-as-enum",
    ),
    pytest.param(
        "type Logout { title: String }",
        ["schema.graphql:1:6: type 'Logout' would generate the reserved field 'logout'"],
        id="reserved-root-field",
    ),
    pytest.param(
        "type movie { title: String }",
        [
            "schema.graphql:1:6: invalid type name 'movie': "
            "use PascalCase letters and digits, like Movie"
        ],
        id="lowercase-type",
    ),
    pytest.param(
        "type Movie_Star { name: String }",
        [
            "schema.graphql:1:6: invalid type name 'Movie_Star': "
            "use PascalCase letters and digits, like Movie"
        ],
        id="underscore-in-type",
    ),
    pytest.param(
        "enum genre { A }",
        [
            "schema.graphql:1:6: invalid enum name 'genre': "
            "use PascalCase letters and digits, like Movie"
        ],
        id="lowercase-enum",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  _secret: String\n}",
        [
            "schema.graphql:3:3: invalid field name 'Movie._secret': "
            "start with a lowercase letter, then letters, digits or _"
        ],
        id="field-starting-with-underscore",
    ),
    pytest.param(
        "type Movie {\n  Title: String\n}",
        [
            "schema.graphql:2:3: invalid field name 'Movie.Title': "
            "start with a lowercase letter, then letters, digits or _"
        ],
        id="capitalised-field",
    ),
    pytest.param(
        "enum Genre { ACTION ACTION }\ntype Movie { genre: Genre }",
        ["schema.graphql:1:21: duplicate value 'ACTION' in enum Genre"],
        id="duplicate-enum-value",
    ),
    pytest.param(
        "enum Genre { _HIDDEN }\ntype Movie { genre: Genre }",
        [
            "schema.graphql:1:14: invalid enum value '_HIDDEN' in enum Genre",
            "schema.graphql:1:1: enum Genre has no values",
        ],
        id="invalid-enum-value",
    ),
    pytest.param(
        "type Movie {\n  title: String @searchable\n}",
        [
            "schema.graphql:2:17: unknown directive @searchable "
            "(known: @unique, @default, @relation)"
        ],
        id="unknown-directive",
    ),
    pytest.param(
        "type Movie {\n  title: String @unique @unique\n}",
        ["schema.graphql:2:25: directive @unique is given twice"],
        id="directive-twice",
    ),
    pytest.param(
        "type Movie @model {\n  title: String\n}",
        ["schema.graphql:1:1: directives on types are not supported"],
        id="directive-on-type",
    ),
    pytest.param(
        "type Movie {\n  title(lang: String): String\n}",
        ["schema.graphql:2:3: field Movie.title cannot take arguments in the data model"],
        id="field-arguments",
    ),
    pytest.param(
        "type Movie {\n  grid: [[Int]]\n  title: String\n}",
        ["schema.graphql:2:3: field Movie.grid: nested lists are not supported"],
        id="nested-list",
    ),
    pytest.param(
        "type Movie {\n  id: String\n  title: String\n}",
        ["schema.graphql:2:3: field Movie.id must be declared as `id: ID!`"],
        id="id-not-ID",
    ),
    pytest.param(
        "type Movie {\n  id: ID\n  title: String\n}",
        ["schema.graphql:2:3: field Movie.id must be declared as `id: ID!`"],
        id="id-optional",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  ref: ID\n}",
        ["schema.graphql:3:3: field Movie.ref: ID is only for `id`; use a relation or a String"],
        id="ID-on-another-field",
    ),
    pytest.param(
        "type Movie {\n  tags: [String] @unique\n  extra: JSON @unique\n  seen: Boolean @unique\n}",
        [
            "schema.graphql:2:3: @unique is not allowed on Movie.tags (String values)",
            "schema.graphql:3:3: @unique is not allowed on Movie.extra (JSON values)",
            "schema.graphql:4:3: @unique is not allowed on Movie.seen (Boolean values)",
        ],
        id="unique-not-allowed",
    ),
    pytest.param(
        'type Movie {\n  title: String @relation(name: "x")\n}',
        ["schema.graphql:2:3: @relation is only allowed on relation fields (Movie.title)"],
        id="relation-on-scalar",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  director: Person @unique @default(value: 1)\n}\n"
        "type Person { name: String }",
        [
            "schema.graphql:3:3: @unique is not allowed on relation field Movie.director",
            "schema.graphql:3:3: @default is not allowed on relation field Movie.director",
        ],
        id="unique-and-default-on-relation",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  director: Person @relation(onDelete: DELETE)\n}\n"
        "type Person { name: String }",
        [
            "schema.graphql:3:3: @relation(onDelete:) on Movie.director "
            "must be SET_NULL, CASCADE or RESTRICT"
        ],
        id="unknown-on-delete",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  director: Person @relation(name: 3)\n}\n"
        "type Person { name: String }",
        ["schema.graphql:3:3: @relation(name:) on Movie.director must be a string"],
        id="relation-name-not-a-string",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  director: Person @relation(fields: [id])\n}\n"
        "type Person { name: String }",
        ["schema.graphql:3:3: unknown @relation argument 'fields' on Movie.director"],
        id="unknown-relation-argument",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  director: Person! @relation(onDelete: SET_NULL)\n}\n"
        "type Person { name: String }",
        [
            "schema.graphql:3:3: Movie.director is required, so onDelete cannot be SET_NULL "
            "(use CASCADE or RESTRICT)"
        ],
        id="set-null-on-required",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  director: Person\n}\n"
        "type Person {\n  name: String\n  movies: [Movie!]! @relation(onDelete: CASCADE)\n}",
        ["schema.graphql:7:3: onDelete belongs on the field that holds the link (Movie.director)"],
        id="on-delete-on-the-list-side",
    ),
    pytest.param(
        "type Movie { title: String }\n"
        "type Person {\n  name: String\n  movies: [Movie!]! @relation(onDelete: CASCADE)\n}",
        ["schema.graphql:4:3: onDelete belongs on the field that holds the link (the to-one side)"],
        id="on-delete-on-a-one-sided-list",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  director: Person\n  writer: Person\n}\n"
        "type Person { name: String }",
        [
            "schema.graphql:4:3: ambiguous relations between Movie and Person "
            '(Movie.director, Movie.writer): name each pair with @relation(name: "...")'
        ],
        id="ambiguous-relations",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  director: Person\n}\n"
        "type Person {\n  name: String\n  directed: [Movie!]!\n  wrote: [Movie!]!\n}",
        [
            "schema.graphql:8:3: ambiguous relations between Movie and Person "
            "(Movie.director, Person.directed, Person.wrote): "
            'name each pair with @relation(name: "...")'
        ],
        id="ambiguous-back-sides",
    ),
    pytest.param(
        "type Person {\n  name: String\n  parent: Person\n  children: [Person!]!\n"
        "  friend: Person\n}",
        [
            "schema.graphql:5:3: ambiguous relations between Person and Person "
            "(Person.parent, Person.children, Person.friend): "
            'name each pair with @relation(name: "...")'
        ],
        id="ambiguous-self-relations",
    ),
    pytest.param(
        'type Movie {\n  title: String\n  a: Person @relation(name: "R")\n'
        '  b: Person @relation(name: "R")\n}\n'
        'type Person {\n  name: String\n  movies: [Movie!]! @relation(name: "R")\n}',
        [
            "schema.graphql:8:3: relation 'R' names more than two fields "
            "(Movie.a, Movie.b, Person.movies)"
        ],
        id="relation-name-on-three-fields",
    ),
    pytest.param(
        'type Movie {\n  title: String\n  director: Person @relation(name: "Made")\n}\n'
        'type Review {\n  text: String\n  movie: Movie @relation(name: "Made")\n}\n'
        "type Person { name: String }",
        [
            "schema.graphql:7:3: relation 'Made' is already used between Movie and Person; "
            "give Review.movie its own name"
        ],
        id="relation-name-reused-between-other-types",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  cast: [Person!]!\n}\n"
        "type Person {\n  name: String\n  movies: [Movie!]!\n}",
        [
            "schema.graphql:7:3: many-to-many relations are not supported yet "
            "(Movie.cast and Person.movies); add a type for the link with a to-one field "
            "to each side"
        ],
        id="many-to-many",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  director: Person\n  directorId: String\n}\n"
        "type Person { name: String }",
        [
            "schema.graphql:3:3: field Movie.directorId clashes with the key column of "
            "relation Movie.director"
        ],
        id="key-column-clash",
    ),
    pytest.param(
        "interface Named {\n  name: String\n}",
        [
            "schema.graphql:1:1: InterfaceTypeDefinition is not supported in the data model "
            "(use object types, `extend type` and enums)"
        ],
        id="interface",
    ),
    pytest.param(
        "input MovieInput {\n  title: String\n}",
        [
            "schema.graphql:1:1: InputObjectTypeDefinition is not supported in the data model "
            "(use object types, `extend type` and enums)"
        ],
        id="input",
    ),
    pytest.param(
        "scalar Url",
        [
            "schema.graphql:1:1: ScalarTypeDefinition is not supported in the data model "
            "(use object types, `extend type` and enums)"
        ],
        id="scalar",
    ),
    pytest.param(
        "type Movie { title: String }\ntype Show { title: String }\nunion Media = Movie | Show",
        [
            "schema.graphql:3:1: UnionTypeDefinition is not supported in the data model "
            "(use object types, `extend type` and enums)"
        ],
        id="union",
    ),
    pytest.param(
        "{ movies { title } }",
        [
            "schema.graphql:1:1: OperationDefinition is not supported in the data model "
            "(use object types, `extend type` and enums)"
        ],
        id="query-document",
    ),
    pytest.param(
        "type Movie implements Node {\n  title: String\n}",
        ["schema.graphql:1:1: interfaces are not supported"],
        id="implements",
    ),
    pytest.param(
        "type Movie { title: String }\n\ntype MovieWhereInput {\n  title: String\n}",
        ["schema.graphql:3:6: type name 'MovieWhereInput' clashes with a name generated for Movie"],
        id="generated-input-name",
    ),
    pytest.param(
        "type Movie { title: String }\nenum MovieOrderByInput { A }",
        [
            "schema.graphql:2:6: type name 'MovieOrderByInput' clashes with "
            "a name generated for Movie"
        ],
        id="generated-order-by-name",
    ),
    pytest.param(
        "type Person { name: String }\ntype People { name: String }",
        [
            "schema.graphql:2:6: type 'People' generates the field 'people', "
            "which type 'Person' generates too"
        ],
        id="same-root-field-from-plural",
    ),
    pytest.param(
        "type Movie { title: String }\ntype CreateMovie { title: String }",
        [
            "schema.graphql:2:6: type 'CreateMovie' generates the field 'createMovie', "
            "which type 'Movie' generates too"
        ],
        id="same-root-field-from-mutation",
    ),
    pytest.param(
        "type Movie {\n  title: String\n  title_not: String\n}",
        [
            "schema.graphql:1:6: fields Movie.title and Movie.title_not both make the filter "
            "'title_not'; rename one"
        ],
        id="filter-name-clash",
    ),
    pytest.param(
        "type Movie {\n  id: ID!\n}",
        ["schema.graphql:1:6: type 'Movie' has no fields besides id"],
        id="only-id",
    ),
    pytest.param(
        "type Movie\nextend type Movie { year: Int }\ntype Tag",
        ["schema.graphql:3:6: type 'Tag' has no fields besides id"],
        id="no-fields",
    ),
]


@pytest.mark.parametrize(("sdl", "expected"), BAD_MODELS)
def test_bad_models_are_refused_with_file_line_column(sdl: str, expected: list[str]) -> None:
    assert problems(sdl) == expected


def test_every_problem_is_reported_at_once() -> None:
    sdl = """\
type Movie {
  title: String
  title: Int
  director: Persn
  rating: Float @default(value: "high")
}

type Query { a: String }

interface Named { name: String }
"""
    assert problems(sdl) == [
        "schema.graphql:8:6: 'Query' is a reserved name and cannot name a type",
        "schema.graphql:10:1: InterfaceTypeDefinition is not supported in the data model "
        "(use object types, `extend type` and enums)",
        "schema.graphql:3:3: duplicate field 'Movie.title' (first defined at schema.graphql:2:3)",
        "schema.graphql:4:3: unknown type 'Persn' for field Movie.director",
        "schema.graphql:5:3: @default on Movie.rating: expected a Float value, got 'high'",
    ]


def test_problems_name_the_file_given() -> None:
    assert problems("type Movie {\n  x: Nope\n}", "app/model.graphql") == [
        "app/model.graphql:2:3: unknown type 'Nope' for field Movie.x"
    ]


def test_a_project_error_carries_its_lines_and_code() -> None:
    with pytest.raises(ProjectError) as caught:
        parse_model("type Query { a: String }\ntype movie { a: String }")
    error = caught.value
    assert error.code is Code.PROJECT_INVALID
    assert error.message == "\n".join(error.problems)
    assert len(error.problems) == 2


def test_an_empty_schema_has_only_the_user() -> None:
    assert list(parse_model("").types) == ["User"]
    assert list(parse_model("# nothing yet\n").types) == ["User"]
