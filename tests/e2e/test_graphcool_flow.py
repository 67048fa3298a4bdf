"""The Graphcool flows on a fresh ``bastion init`` project, with the CLI and a real server.

Root tokens declared in bastion.yml and made by deploy; a root request past every rule and the
admin fields; a node token from ``bastion token create``; a resolver function; rotation.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from bastion.cli import main
from tests.conftest import unauthenticated
from tests.e2e.conftest import Serve

GREETINGS = """
def hello(event):
    who = "root" if event.context.viewer.kind == "root" else "guest"
    return f"hello {event.data['name']}, {who}"
"""


def bastion(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_root_and_node_tokens_and_functions_on_a_fresh_project(
    serve: Serve, tmp_path: Path
) -> None:
    project = tmp_path / "app"
    assert bastion("init", str(project)).exit_code == 0
    config = yaml.safe_load((project / "bastion.yml").read_text(encoding="utf-8"))
    config["root_tokens"] = ["ci"]
    config["functions"] = {
        "hello": {
            "handler": "greetings:hello",
            "schema": "extend type Query { hello(name: String!): String! }",
        }
    }
    config["permissions"]["Secret"] = {}  # no rules: root only
    (project / "bastion.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with (project / "schema.graphql").open("a", encoding="utf-8") as schema:
        schema.write("\ntype Secret {\n  text: String!\n}\n")
    (project / "greetings.py").write_text(GREETINGS, encoding="utf-8")

    deployed = bastion("deploy", str(project))
    assert deployed.exit_code == 0, deployed.output
    assert "created root token ci" in deployed.output
    root = bastion("root-token", "get", "ci", "--project", str(project)).stdout.strip()
    assert root.startswith("bastion_root_")

    server = serve(str(project))
    made = server.data(
        'mutation { createSecret(data: {text: "s3cret"}) { id } '
        'createMovie(data: {title: "Alien"}) { id } }',
        token=root,
    )
    # Root reads what the rules give nobody; anyone else sees nothing of it.
    assert server.data("{ secrets { text } }", token=root) == {"secrets": [{"text": "s3cret"}]}
    assert server.data("{ secrets { text } }") == {"secrets": []}
    assert server.data("{ viewer { isRoot } users { id } }", token=root) == {
        "viewer": {"isRoot": True},
        "users": [],
    }
    # For anyone but root, `users` does not exist.
    refused = server.post("{ users { id } }")["errors"][0]["extensions"]["code"]
    assert refused == "GRAPHQL_VALIDATION_FAILED"
    assert server.data('{ hello(name: "ada") }', token=root) == {"hello": "hello ada, root"}
    assert server.data('{ hello(name: "ada") }') == {"hello": "hello ada, guest"}

    movie = made["createMovie"]["id"]
    created = bastion(
        "token", "create", "--type", "Movie", "--id", movie, "--lifetime", "1h",
        "--project", str(project),
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    node = server.data(
        "{ viewer { isRoot node { __typename ... on Movie { title } } } }",
        token=created.stdout.strip(),
    )
    assert node == {"viewer": {"isRoot": False, "node": {"__typename": "Movie", "title": "Alien"}}}
    unknown = bastion("token", "create", "--type", "Film", "--id", movie, "--project", str(project))
    assert unknown.exit_code != 0 and "Film" in unknown.output

    rotated = bastion("root-token", "rotate", "ci", "--project", str(project))
    assert rotated.exit_code == 0
    new_root = rotated.stdout.strip()
    assert server.data("{ viewer { isRoot } }", token=new_root) == {"viewer": {"isRoot": True}}
    # The old token is refused on its next request (the server forgets within a second).
    assert server.wait_for(
        lambda: (
            unauthenticated(server.post("{ viewer { isRoot } }", token=root))
            == "ACCESS_TOKEN_INVALID"
        )
    )
