"""The authentication floor's tables and the statements that read and write them.

``bastion.auth`` decides what a login, a refresh or a revocation means; the SQL that carries
it out lives here, so that ``store`` stays the only package that speaks to the database.
"""
