"""The tests mirror the package: ``tests/<path>/test_<name>.py`` tests ``bastion/<path>/<name>.py``
(or the package ``bastion/<path>/<name>/``), so that the tests of a module are found in one
place, and a module's new test goes there.

``tests/e2e/`` (real processes, real clients) is outside the rule, and so is every module that
is no test file (``conftest.py``, helper modules). A behaviour suite, which tests a whole
package under a name that says what it tries, is listed below with what it is.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
OUTSIDE = {"e2e"}  # the folders of tests/ the rule does not cover

# Behaviour suites: tests of a whole package (or of the whole app) rather than of one module.
# Keep the list short: a test of one module goes beside that module's other tests.
BEHAVIOUR_SUITES = {
    # An attacker's afternoon across every package, in-process and against real servers.
    "test_attacker.py",
    # The documentation site: the bastion.yml reference that scripts/settings_reference.py makes.
    "test_docs.py",
    # The movies schema end to end, in-process.
    "test_smoke.py",
    # This check.
    "test_layout.py",
    # Forged and tampered access tokens: each one makes the request anonymous.
    "auth/test_attacks.py",
    # Every emailed-token flow refuses to check a credential after a write in its document.
    "auth/email/test_after_write.py",
    # The sessions' cached users after data writes (the executor, the resolvers, the writer).
    "graphql/test_cached_users.py",
    # Requests racing each other: parallel refreshes of one token, requests racing a logout.
    "auth/sessions/test_concurrency.py",
    # Resolvers and hooks: the functions package end to end, on real project folders.
    "functions/test_functions.py",
    # Attempts to get round the permission rules.
    "permissions/test_bypass.py",
    # The permission matrix: four viewers x four operations x three kinds of rule.
    "permissions/test_matrix.py",
    # Writes that change a link, from either side of a relation.
    "permissions/test_relation_writes.py",
}


def covered_files() -> list[Path]:
    """Every ``test_*.py`` the rule covers, relative to tests/."""
    found = [path.relative_to(TESTS) for path in TESTS.rglob("test_*.py")]
    return sorted(path for path in found if path.parts[0] not in OUTSIDE)


def subjects(path: Path) -> list[Path]:
    """What the test file ``path`` (relative to tests/) may test: a module or a package."""
    folder = ROOT.joinpath("bastion", *path.parts[:-1])
    name = path.stem.removeprefix("test_")
    return [folder / f"{name}.py", folder / name / "__init__.py"]


def test_every_test_file_tests_a_module_or_a_package() -> None:
    strays = []
    for path in covered_files():
        if path.as_posix() in BEHAVIOUR_SUITES:
            continue
        if not any(subject.is_file() for subject in subjects(path)):
            module, package = (s.relative_to(ROOT).as_posix() for s in subjects(path))
            strays.append(f"tests/{path.as_posix()}: no {module}, no {package}")
    assert strays == [], (
        "A test_<name>.py in tests/<path>/ tests bastion/<path>/<name>.py or the package "
        "bastion/<path>/<name>/ (docs/architecture.md, Tests): move each of these beside its "
        "module, or list a behaviour suite in BEHAVIOUR_SUITES.\n" + "\n".join(strays)
    )


def test_every_listed_suite_exists() -> None:
    present = {path.as_posix() for path in covered_files()}
    assert sorted(BEHAVIOUR_SUITES - present) == []


def test_every_test_folder_is_a_package() -> None:
    # Test modules of different folders share names (tests/auth/test_keys.py and
    # tests/cli/test_keys.py): pytest tells them apart by their packages.
    folders = {path.parent for path in TESTS.rglob("test_*.py")} | {TESTS}
    missing = [folder for folder in folders if not (folder / "__init__.py").is_file()]
    assert sorted(folder.relative_to(ROOT).as_posix() for folder in missing) == []
