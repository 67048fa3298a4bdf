"""Functions: Python handlers that resolve new root fields and hook into writes.

``settings`` reads the ``functions:`` section, ``loader`` imports the handlers from the project
folder, ``runtime`` calls them (event, context, errors) and ``wiring`` puts them into the schema.
"""
