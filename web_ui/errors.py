"""The panel's branch of the exception tree (HTTP refusals, mapped once in ``app``)::

    GymctlError
    └── PanelError
        ├── NotAuthenticatedError   no valid session or token (401; pages go to /login)
        ├── ForbiddenError          signed in, but the role may not do this (403)
        ├── CsrfError               a state-changing request without its CSRF token (403)
        └── RateLimitedError        too many failed logins; ``retry_after`` seconds (429)

Bad input is ``InvalidInputError`` (422), an unknown row ``NotFoundError`` (404), a
station's refusal a ``CommandResult`` (409), an unwritable store ``StoreUnwritableError``
(503).
"""

from __future__ import annotations

from kernels.errors import GymctlError


class PanelError(GymctlError):
    """Base of the panel's refusals."""


class NotAuthenticatedError(PanelError):
    def __init__(self, message: str = "sign in first") -> None:
        super().__init__(message)


class ForbiddenError(PanelError):
    def __init__(self, permission: str) -> None:
        self.permission = permission
        super().__init__(f"your role may not do this ({permission})")


class CsrfError(PanelError):
    """A state-changing request that may not come from our own pages."""


class RateLimitedError(PanelError):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, round(retry_after))
        super().__init__(f"too many failed sign-ins: try again in {self.retry_after} s")
