"""Looking into an argument's value as written: lists and input objects at any depth."""

from __future__ import annotations

from graphql import StringValueNode, VariableNode, parse_value

from bastion.graphql.value_nodes import holds


def test_a_kind_is_found_at_any_depth_of_lists_and_objects() -> None:
    assert holds(parse_value('{a: [1, {b: "x"}]}'), StringValueNode)
    assert holds(parse_value("[[{a: $v}]]"), VariableNode)
    assert holds(parse_value("$v"), VariableNode)


def test_values_without_it_and_no_value_hold_nothing() -> None:
    assert not holds(parse_value('{a: [1, true, ENUM, null, "x"]}'), VariableNode)
    assert not holds(parse_value("[$a, {b: $c}]"), (StringValueNode,))
    assert not holds(None, VariableNode)
