"""Bastion's tests, laid out as ``bastion/`` is (docs/architecture.md, "Tests").

Every test folder is a package, so that two folders may each hold a ``test_cache.py``.
"""
