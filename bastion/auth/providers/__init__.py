"""Login providers beside email/password: anonymous, API keys, custom tokens."""
