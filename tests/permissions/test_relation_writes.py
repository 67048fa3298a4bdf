"""Writes that change a link, from either side of a relation: the whole matrix.

A relation has two sides; the link is stored on one of them (Task.project, Badge.task). Every
write below is tried by B on a node of A's: to-one and to-many sides, one-to-one, connect,
disconnect, nested create, set, directly and nested inside another write. Each must be refused
and leave every link as it was; the same writes on B's own nodes succeed, so the refusals
come from the rules and not from a broken write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bastion.auth import SYSTEM
from tests.conftest import GraphQLClient

SCHEMA = """
type Project { name: String! @unique owner: User tasks: [Task!]! }
type Task { title: String! @unique notes: String owner: User project: Project badge: Badge }
type Badge { code: String! @unique owner: User task: Task }
extend type User { projects: [Project!]! tasks: [Task!]! badges: [Badge!]! }
"""
OWN = {"owner": {"id": "$viewer.id"}}
PASSWORD = "correct horse battery"


BY_PROJECT = {"project": {"owner": {"id": "$viewer.id"}}}
# The rule sets the matrix runs under: which of A's nodes B may see, and what makes a task
# (and its badge) someone's.
VARIANTS = {
    # A shared board anyone signed in may edit; tasks and badges are their owner's, and B
    # may see A's...
    "visible": ("authenticated", "everyone", OWN, OWN),
    # ...or not;
    "hidden": ("authenticated", OWN, OWN, OWN),
    # a project is its owner's, and so is every task in it: the rule depends on the very
    # link a write changes, so only a check before the change can refuse a move.
    "by-project": (OWN, "everyone", BY_PROJECT, {"task": BY_PROJECT}),
}


def rules(variant: str) -> dict[str, Any]:
    """The permissions of one variant."""
    project_update, read, task_update, badge_update = VARIANTS[variant]
    return {
        "Project": {
            "read": "authenticated",
            "create": "authenticated",
            "update": project_update,
            "delete": project_update,
        },
        "Task": {"read": read, "create": "authenticated", "update": task_update},
        "Badge": {"read": read, "create": "authenticated", "update": badge_update},
        "User": {"read": {"id": "$viewer.id"}},
    }


@dataclass
class Board:
    """The client, each user's token and id, and the ids of everything by name."""

    client: GraphQLClient
    variant: str
    hidden: bool  # whether B may read A's tasks and badges
    tokens: dict[str, str]
    users: dict[str, str]
    ids: dict[str, str]

    async def gql(self, who: str, query: str) -> dict[str, Any]:
        """Run ``query`` as ``who``, with ``$A_task``-style names replaced by their ids."""
        for name, node_id in sorted(self.ids.items(), key=lambda item: -len(item[0])):
            query = query.replace(f"${name}", f'"{node_id}"')
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return await self.client.gql(query, headers=headers)

    async def links(self) -> dict[str, Any]:
        """Every link, as Bastion itself sees it."""
        service = self.client.app.state.service
        outcome = await service.executor.run(
            "{ tasks(orderBy: title_ASC) { title notes project { name } badge { code } } }",
            {},
            viewer=SYSTEM,
        )
        data: dict[str, Any] = outcome.body["data"]
        return data


async def _register(client: GraphQLClient, who: str) -> tuple[str, str]:
    data = await client.data(
        "mutation($e: String!, $p: String!) { registerUserEmailPassword("
        "input: {email: $e, password: $p}) { accessToken } }",
        {"e": f"{who.lower()}@example.com", "p": PASSWORD},
    )
    token = data["registerUserEmailPassword"]["accessToken"]
    viewer = await client.data(
        "{ viewer { user { id } } }", headers={"Authorization": f"Bearer {token}"}
    )
    return token, viewer["viewer"]["user"]["id"]


@pytest.fixture(params=list(VARIANTS))
async def board(
    request: pytest.FixtureRequest,
    make_project: Callable[..., Any],
    client_for: Callable[..., Any],
) -> Board:
    project = make_project(
        SCHEMA,
        permissions=rules(request.param),
        auth={"providers": {"local-userpass": {"signup": True}}},
    )
    client: GraphQLClient = await client_for(project)
    tokens, users = {}, {}
    for who in ("A", "B"):
        tokens[who], users[who] = await _register(client, who)
    found = Board(client, request.param, request.param == "hidden", tokens, users, {})
    for who in ("A", "B"):
        body = await client.gql(
            "mutation($n: String!, $u: ID!) { p: createProject(data: {name: $n, "
            "owner: {connect: {id: $u}}}) { id } }",
            {"n": f"{who} project", "u": users[who]},
            headers={"Authorization": f"Bearer {tokens[who]}"},
        )
        found.ids[f"{who}_project"] = body["data"]["p"]["id"]
        body = await client.gql(
            "mutation($u: ID!, $p: ID!) { t: createTask(data: {title: "
            f'"{who} task", notes: "{who} secret", owner: {{connect: {{id: $u}}}}, '
            "project: {connect: {id: $p}}, badge: {create: {code: "
            f'"{who} badge", owner: {{connect: {{id: $u}}}}}}}}}}) {{ id badge {{ id }} }} }}',
            {"u": users[who], "p": found.ids[f"{who}_project"]},
            headers={"Authorization": f"Bearer {tokens[who]}"},
        )
        assert "errors" not in body, body
        found.ids[f"{who}_task"] = body["data"]["t"]["id"]
        found.ids[f"{who}_badge"] = body["data"]["t"]["badge"]["id"]
    return found


BEFORE = {
    "tasks": [
        {
            "title": "A task",
            "notes": "A secret",
            "project": {"name": "A project"},
            "badge": {"code": "A badge"},
        },
        {
            "title": "B task",
            "notes": "B secret",
            "project": {"name": "B project"},
            "badge": {"code": "B badge"},
        },
    ]
}

# Each attack, by B, names a node of A's; A may write each of them.
ATTACKS = {
    # the to-many side (Project.tasks), where the key is on the other table
    "to-many connect": "updateProject(id: $B_project, data: {tasks: {connect: [{id: $A_task}]}})",
    "to-many disconnect": (
        "updateProject(id: $A_project, data: {tasks: {disconnect: [{id: $A_task}]}})"
    ),
    "to-many set": "updateProject(id: $A_project, data: {tasks: {set: []}})",
    "to-many set to steal": (
        "updateProject(id: $B_project, data: {tasks: {set: [{id: $B_task}, {id: $A_task}]}})"
    ),
    "to-many connect in a create": (
        'createProject(data: {name: "new", tasks: {connect: [{id: $A_task}]}})'
    ),
    # the to-one side (Task.project), where the key is on the node named
    "to-one connect": "updateTask(id: $A_task, data: {project: {connect: {id: $B_project}}})",
    "to-one disconnect": "updateTask(id: $A_task, data: {project: {disconnect: true}})",
    "to-one create": 'updateTask(id: $A_task, data: {project: {create: {name: "new"}}})',
    # the one-to-one (Task.badge / Badge.task), from both sides
    "one-to-one connect": "updateTask(id: $B_task, data: {badge: {connect: {id: $A_badge}}})",
    "one-to-one connect from the other side": (
        "updateBadge(id: $B_badge, data: {task: {connect: {id: $A_task}}})"
    ),
    "one-to-one disconnect": "updateBadge(id: $A_badge, data: {task: {disconnect: true}})",
    "one-to-one replace": 'updateTask(id: $A_task, data: {badge: {create: {code: "new"}}})',
    # nested: the link is changed by a node created or updated inside the write
    "nested create connects": (
        'createProject(data: {name: "new", tasks: {create: [{title: "new", '
        "badge: {connect: {id: $A_badge}}}]}})"
    ),
    "nested update connects": (
        'updateProject(id: $B_project, data: {tasks: {create: [{title: "new", '
        "badge: {connect: {id: $A_badge}}}]}})"
    ),
    "nested connect in a nested create": (
        'createProject(data: {name: "new", tasks: {create: [{title: "new", badge: {create: '
        '{code: "new"}}}], connect: [{id: $B_task}, {id: $A_task}]}})'
    ),
}


# What B is answered, (when B may read A's nodes, when B may not); by default a node B may read
# but not update is refused, and one B may not read is missing.
ANSWERS: dict[str, tuple[str | None, str | None]] = {
    # B's view of A's project has no tasks in it: setting it to none changes nothing.
    "to-many set": ("FORBIDDEN", None),
    # The task already has a badge, and a one-to-one holds one link.
    "one-to-one connect from the other side": ("CONFLICT", "NOT_FOUND"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_a_link_of_anothers_node_cannot_change_from_either_side(
    board: Board, attack: str
) -> None:
    body = await board.gql("B", f"mutation {{ attack: {ATTACKS[attack]} {{ id }} }}")
    visible, hidden = ANSWERS.get(attack, ("FORBIDDEN", "NOT_FOUND"))
    expected = hidden if board.hidden else visible
    if expected is None:
        assert "errors" not in body, body
    else:
        assert body["data"] is None, body
        assert body["errors"][0]["extensions"]["code"] == expected, body
    assert await board.links() == BEFORE
    if board.variant == "by-project":
        return  # a task out of B's project is no one's, so B's own moves are refused too
    # The write itself works: the same document on B's own nodes is B's to write.
    own = ATTACKS[attack].replace("$A_", "$B_")
    body = await board.gql("B", f"mutation {{ own: {own} {{ id }} }}")
    assert "errors" not in body, body


async def test_a_hidden_node_to_link_is_missing_and_a_visible_one_forbidden(
    board: Board,
) -> None:
    connect = (
        "mutation {{ updateProject(id: $B_project, data: {{tasks: {{connect: [{{id: {}}}]}}}})"
        " {{ id }} }}"
    )
    body = await board.gql("B", connect.format("$A_task"))
    missing = await board.gql("B", connect.format('"no-such-task"'))
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    if board.hidden:
        # Nothing tells A's hidden task from one that does not exist.
        assert body["errors"][0]["message"] == missing["errors"][0]["message"]
        assert body["errors"][0]["extensions"] == missing["errors"][0]["extensions"]
    else:
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert body["errors"][0]["message"] == "Not allowed to update this Task"


# Under by-project rules, A's task cannot join B's project at all.
@pytest.mark.parametrize("board", ["visible", "hidden"], indirect=True)
async def test_set_leaves_the_links_the_viewer_cannot_see(board: Board) -> None:
    # A's task moves onto the shared B project, by A; B then sets the list to B's own task.
    moved = await board.gql(
        "A",
        "mutation { updateTask(id: $A_task, data: {project: {connect: {id: $B_project}}}) { id } }",
    )
    assert "errors" not in moved, moved
    body = await board.gql(
        "B",
        "mutation { updateProject(id: $B_project, data: {tasks: {set: [{id: $B_task}]}}) { id } }",
    )
    projects = {t["title"]: t["project"] for t in (await board.links())["tasks"]}
    if board.hidden:
        # Hidden from B, A's task is not in the list B set: it stays where it is.
        assert "errors" not in body, body
        assert projects == {"A task": {"name": "B project"}, "B task": {"name": "B project"}}
    else:
        # B sees it and may not unlink it.
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert projects == {"A task": {"name": "B project"}, "B task": {"name": "B project"}}


# -- field write rules, whichever side the write names ------------------------------------

EVERYONE = {op: "everyone" for op in ("read", "create", "update", "delete")}
MOVIE_RULE = {"Movie": {**EVERYONE, "fields": {"director": {"write": "root"}}}, "Person": EVERYONE}
PERSON_RULE = {"Movie": EVERYONE, "Person": {**EVERYONE, "fields": {"movies": {"write": "root"}}}}
# Each write sets Movie.director and Person.movies, naming one side or the other.
LINK_WRITES = {
    "connect from the list": 'createPerson(data: {name: "T", movies: {connect: [{title: "M"}]}})',
    "create in the list": 'createPerson(data: {name: "T", movies: {create: [{title: "N"}]}})',
    "disconnect from the list": (
        'updatePerson(id: $p, data: {movies: {disconnect: [{title: "M"}]}})'
    ),
    "set the list": "updatePerson(id: $p, data: {movies: {set: []}})",
    "connect the director": 'updateMovie(id: $m, data: {director: {connect: {name: "Q"}}})',
    "create the director": 'updateMovie(id: $m, data: {director: {create: {name: "R"}}})',
    "disconnect the director": "updateMovie(id: $m, data: {director: {disconnect: true}})",
    "create with a director": ('createMovie(data: {title: "N", director: {connect: {name: "P"}}})'),
}


@pytest.mark.parametrize("write", list(LINK_WRITES))
@pytest.mark.parametrize(
    "rules", [MOVIE_RULE, PERSON_RULE], ids=["Movie.director", "Person.movies"]
)
async def test_a_field_write_rule_holds_from_either_side(
    make_project: Callable[..., Any],
    client_for: Callable[..., Any],
    rules: dict[str, Any],
    write: str,
) -> None:
    client: GraphQLClient = await client_for(make_project(permissions=rules))
    service = client.app.state.service
    created = await service.executor.run(
        'mutation { q: createPerson(data: {name: "Q"}) { id } '
        'p: createPerson(data: {name: "P", movies: {create: [{title: "M"}]}}) '
        "{ id movies { id } } }",
        {},
        viewer=SYSTEM,
    )
    ids = {"p": created.body["data"]["p"]["id"], "m": created.body["data"]["p"]["movies"][0]["id"]}
    document = LINK_WRITES[write].replace("$p", f'"{ids["p"]}"').replace("$m", f'"{ids["m"]}"')

    body = await client.gql(f"mutation {{ w: {document} {{ id }} }}")

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    ruled = "Movie.director" if rules is MOVIE_RULE else "Person.movies"
    assert body["errors"][0]["message"] == f"Not allowed to set {ruled}"
    after = await service.executor.run(
        "{ people(orderBy: name_ASC) { name movies { title } } moviesCount }", {}, viewer=SYSTEM
    )
    assert after.body["data"] == {
        "people": [{"name": "P", "movies": [{"title": "M"}]}, {"name": "Q", "movies": []}],
        "moviesCount": 1,
    }
    # Writes that leave the ruled field alone still go through.
    plain = await client.gql('mutation { createPerson(data: {name: "S"}) { id } }')
    assert "errors" not in plain, plain


# -- a delete changes what points at the deleted node -------------------------------------

FALLOUT_SCHEMA = """
type Project { name: String! @unique owner: User tasks: [Task!]! }
type Task { title: String! @unique owner: User project: Project comments: [Comment!]! }
type Comment { text: String! @unique owner: User task: Task! @relation(onDelete: CASCADE) }
"""
OWNED = {"read": "everyone", "create": "authenticated", "update": OWN, "delete": OWN}


async def test_a_delete_may_not_unlink_or_cascade_into_anothers_nodes(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    client: GraphQLClient = await client_for(
        make_project(
            FALLOUT_SCHEMA,
            permissions={
                "Project": OWNED,
                "Task": OWNED,
                "Comment": OWNED,
                "User": {"read": {"id": "$viewer.id"}},
            },
            auth={"providers": {"local-userpass": {"signup": True}}},
        )
    )
    (a, a_id), (b, b_id) = [await _register(client, who) for who in ("A", "B")]

    async def run(token: str, query: str, **variables: Any) -> dict[str, Any]:
        return await client.gql(query, variables, headers={"Authorization": f"Bearer {token}"})

    made = await run(
        b,
        'mutation($u: ID!) { createProject(data: {name: "B project", owner: {connect: {id: $u}}, '
        'tasks: {create: [{title: "B task", owner: {connect: {id: $u}}}]}}) '
        "{ id tasks { id } } }",
        u=b_id,
    )
    project, task = made["data"]["createProject"]["id"], made["data"]["createProject"]["tasks"]
    # A files a task on B's project and comments on B's task: both are A's.
    filed = await run(
        a,
        "mutation($u: ID!, $p: ID!, $t: ID!) { "
        'x: createTask(data: {title: "A task", owner: {connect: {id: $u}}, '
        "project: {connect: {id: $p}}}) { id } "
        'y: createComment(data: {text: "A comment", owner: {connect: {id: $u}}, '
        "task: {connect: {id: $t}}}) { id } }",
        u=a_id,
        p=project,
        t=task[0]["id"],
    )
    assert "errors" not in filed, filed
    state = "{ tasks(orderBy: title_ASC) { title project { name } } commentsCount projectsCount }"
    before = await run(a, state)

    unlinks = await run(b, "mutation($p: ID!) { deleteProject(id: $p) { id } }", p=project)
    assert unlinks["errors"][0]["message"] == "Not allowed to update this Task", unlinks
    cascades = await run(b, "mutation($t: ID!) { deleteTask(id: $t) { id } }", t=task[0]["id"])
    assert cascades["errors"][0]["message"] == "Not allowed to delete this Comment", cascades
    assert await run(a, state) == before

    # Once A's nodes are gone, B's deletes go through and take B's own nodes with them.
    cleared = await run(
        a,
        'mutation { deleteComment(id: "' + filed["data"]["y"]["id"] + '") { id } '
        'deleteTask(id: "' + filed["data"]["x"]["id"] + '") { id } }',
    )
    assert "errors" not in cleared, cleared
    done = await run(b, "mutation($p: ID!) { deleteProject(id: $p) { id } }", p=project)
    assert "errors" not in done, done
    after = await run(b, state)
    assert after["data"] == {
        "tasks": [{"title": "B task", "project": None}],
        "commentsCount": 0,
        "projectsCount": 0,
    }
