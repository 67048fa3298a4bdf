"""The time limits every token Bastion signs or verifies shares: one home for both the token
code and the key set that signs it."""

LEEWAY_SECONDS = 30
"""Clock skew tolerated between machines when reading ``iat``, ``nbf`` and ``exp``."""

LONGEST_LIFETIME = 365 * 86_400
"""No token Bastion signs lives longer (node tokens: a year; access tokens: a day at most)."""
