"""The Python client of Bastion: log in once; the access token is refreshed without notice.

```python
from bastion.client import Client

with Client("http://127.0.0.1:8000/graphql") as bastion:
    bastion.login_email_password("ada@example.com", "correct horse battery")
    print(bastion.execute("{ viewer { user { email } } }"))
```

:class:`BastionAuth` brings the same behaviour to any httpx client, gql's transports included.
"""

from bastion.client.auth import BastionAuth
from bastion.client.client import AsyncClient, Client
from bastion.client.errors import ClientError, GraphQLError, SessionExpired, UnexpectedResponse
from bastion.client.stores import FileTokenStore, MemoryTokenStore, TokenStore
from bastion.client.tokens import TokenSet, refresh_margin

__all__ = [
    "AsyncClient",
    "BastionAuth",
    "Client",
    "ClientError",
    "FileTokenStore",
    "GraphQLError",
    "MemoryTokenStore",
    "SessionExpired",
    "TokenSet",
    "TokenStore",
    "UnexpectedResponse",
    "refresh_margin",
]
