"""Functions: Python handlers that resolve new root fields, hook into writes, or are called by
clients by name.

``settings`` reads the ``functions:`` section, ``loader`` imports the handlers from the project
folder, ``runtime`` calls them (event, context, errors), ``wiring`` puts resolvers and hooks into
the schema, and ``callable`` runs the callable ones for the HTTP edge.
"""
