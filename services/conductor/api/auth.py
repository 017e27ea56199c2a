"""Bearer-token authentication of the API's writes: 401 without a token, 403 with a wrong one
(compared in constant time). The token comes from the conductor's settings and is never logged
or echoed; with no token configured every write is refused (403)."""

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import HTTPException, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

__all__ = ["bearer_auth"]


def bearer_auth(token: SecretStr | None) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that admits only requests carrying `Authorization: Bearer <token>`
    (it also declares the bearer scheme in the OpenAPI document)."""
    secret = token.get_secret_value().encode() if token is not None else b""
    scheme = HTTPBearer(auto_error=False, description="the conductor's API token")

    async def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(scheme)],
    ) -> None:
        if credentials is None or not credentials.credentials:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="this endpoint needs a bearer token (Authorization: Bearer <token>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not secret:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail="writes are disabled: no API token is configured",
            )
        if not hmac.compare_digest(credentials.credentials.encode(), secret):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="wrong bearer token")

    return require_token
