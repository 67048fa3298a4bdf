"""The compiled read path: queries answered by plans instead of field-by-field resolution.

graphql-core resolves a document one field at a time: for a list of a hundred movies with
their directors it builds a resolve info, calls a resolver and completes a value some eight
hundred times. The SQL was already right (one statement per relation level); the time went
into that machinery. Here a prepared query is compiled once, per operation and per the values
of its ``@skip``/``@include`` variables, into a tree of plans (:mod:`.plan`); a request then
reads each level of rows in one statement, only the columns asked for (:mod:`.fetch`), and
projects them into the response with precomputed steps (:mod:`.project`).

The answers are the reference executor's, byte for byte: the same permission checks (row
scopes in SQL, field rules by the one :func:`bastion.graphql.field_access.readable`), the same
scalar serializers, errors with the same messages, locations and paths, and the same null
propagation. What the plans do not own — a project function's field, introspection, a
mutation — is answered by graphql-core's executor, for that root field only (:mod:`.run`).
"""
