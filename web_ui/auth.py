"""Who is asking: web sessions (cookie + CSRF token) and API tokens (Bearer).

* **Sessions.** The cookie holds 256 random bits; the store keeps only its SHA-256
  (``web_sessions.session_hash``). A new session id is issued at every login and any
  session id the browser brought is deleted, so an id planted before login (fixation) is
  worth nothing. Sessions end after ``session_idle_s`` without use and ``session_max_s`` in
  any case. The cookie is ``HttpOnly``, ``SameSite=Strict`` and ``Secure`` under TLS.
* **CSRF.** Each session has a token derived from its secret (HMAC-SHA256), stored as a
  hash (``csrf_hash``). Every state-changing request authenticated by the cookie must carry
  it, in the ``X-CSRF-Token`` header (htmx, fetch) or the ``csrf_token`` form field, and
  must not come from another site (``Sec-Fetch-Site``/``Origin``). Bearer requests carry no
  ambient credentials and need no CSRF token.
* **Tokens.** ``Authorization: Bearer gym_...``; the store keeps the SHA-256; a token acts
  with its user's role, until it expires or is revoked.

Lookups are cached for a few seconds (``cache_s``) so a busy floor does not read the
database on every request; logout and revocation through the panel drop the cache entry at
once, changes made from the command line take effect within ``cache_s``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from sqlite_utils import Database

from controller.errors import NotFoundError
from controller.store import Sql, Store
from controller.store.people import (
    create_web_session,
    delete_web_session,
    hash_secret,
    record_login,
)
from web_ui.permissions import Permission, allowed
from web_ui.settings import PanelSettings

SESSION_COOKIE = "gymctl_session"
LOGIN_COOKIE = "gymctl_login"  #: the pre-session CSRF token of the login form
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
TOKEN_PREFIX = "gym_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY_S = 60.0


def new_token() -> str:
    """An API token as handed to its user (shown once)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def csrf_for(session_secret: str) -> str:
    """The CSRF token of a session: a keyed hash of its secret, never stored in clear."""
    return hmac.new(session_secret.encode("utf-8"), b"gymctl-csrf", hashlib.sha256).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in staff member (or a machine client acting with a user's token)."""

    user_id: int
    username: str
    role: str
    via: Literal["session", "token"]
    session_hash: str | None = None
    csrf_hash: str | None = None
    csrf_token: str | None = None  #: for templates (sessions only)
    token_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return allowed(self.role, permission)

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return self.username if self.via == "session" else f"{self.username} (token)"

    def csrf_ok(self, presented: str | None) -> bool:
        if self.via != "session":
            return True
        if not presented or self.csrf_hash is None:
            return False
        return same_secret(hash_secret(presented), self.csrf_hash)


@dataclass(frozen=True, slots=True)
class _Cached:
    principal: Principal
    fetched: float  #: monotonic: the cache's age must not follow wall-clock jumps
    created: float  #: wall clock, as stored
    expires: float  #: wall clock, as stored


class Authenticator:
    """Sessions and tokens over the store (writes through its writer, reads its reader)."""

    def __init__(
        self,
        store: Store,
        settings: PanelSettings,
        *,
        cache_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self.cache_s = cache_s
        #: ages (the cache, the touch throttle) use this monotonic clock; expiries stored in
        #: the database are wall-clock times, compared with ``time.time()``
        self.clock = clock
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._touched: dict[str, float] = {}  #: monotonic time of the last touch

    # -- sessions ---------------------------------------------------------------------

    async def start_session(
        self, *, user_id: int, user_agent: str, previous: str | None
    ) -> tuple[str, str]:
        """A fresh session for a user who just proved their password: ``(secret, csrf)``.

        The session the browser brought along, if any, is deleted in the same transaction.
        """
        secret = secrets.token_urlsafe(32)
        csrf = csrf_for(secret)
        session_hash = hash_secret(secret)
        expires = time.time() + self.settings.session_idle_s
        old_hash = hash_secret(previous) if previous else None

        def write(db: Database) -> None:
            if old_hash is not None:
                delete_web_session(db, session_hash=old_hash)
            create_web_session(
                db,
                user_id=user_id,
                session_hash=session_hash,
                expires=expires,
                csrf_hash=hash_secret(csrf),
                user_agent=user_agent,
            )
            record_login(db, user_id=user_id)

        await self.store.writer.call(write, label="login")
        if old_hash is not None:
            self._forget(old_hash)
        return secret, csrf

    async def end_session(self, secret: str) -> None:
        session_hash = hash_secret(secret)
        self._forget(session_hash)
        await self.store.writer.call(
            partial(delete_web_session, session_hash=session_hash), label="logout"
        )

    async def from_session(self, secret: str) -> Principal | None:
        session_hash = hash_secret(secret)
        now = time.time()
        age_now = self.clock()
        cached = self._cache.get(session_hash)
        if cached is None or age_now - cached.fetched > self.cache_s:
            try:
                row = await self.store.reader.web_session(session_hash)
            except NotFoundError:
                self._forget(session_hash)
                return None
            if row["disabled"]:
                return None
            cached = _Cached(
                Principal(
                    user_id=int(row["user_id"]),
                    username=str(row["username"]),
                    role=str(row["role"]),
                    via="session",
                    session_hash=session_hash,
                    csrf_hash=row["csrf_hash"],
                    csrf_token=csrf_for(secret),
                ),
                age_now,
                float(row["created"]),
                float(row["expires"]),
            )
            self._remember(session_hash, cached)
        if now >= cached.expires or now - cached.created > self.settings.session_max_s:
            self._forget(session_hash)
            return None
        self._touch(session_hash, now)
        return cached.principal

    def _touch(self, session_hash: str, now: float) -> None:
        """Slide the idle expiry, at most once a minute per session (a queued write)."""
        tick = self.clock()
        last = self._touched.get(session_hash)
        if last is not None and tick - last < TOUCH_EVERY_S:
            return
        self._touched[session_hash] = tick
        expires = now + self.settings.session_idle_s
        self.store.writer.write(
            Sql(
                "UPDATE web_sessions SET last_seen = ?, expires = ? WHERE session_hash = ?",
                (now, expires, session_hash),
                "session touch",
            )
        )
        cached = self._cache.get(session_hash)
        if cached is not None:
            self._cache[session_hash] = _Cached(
                cached.principal, cached.fetched, cached.created, expires
            )

    # -- tokens -----------------------------------------------------------------------

    async def from_token(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        token_hash = hash_secret(token)
        key = "t:" + token_hash
        now = time.time()
        age_now = self.clock()
        cached = self._cache.get(key)
        if cached is None or age_now - cached.fetched > self.cache_s:
            try:
                row = await self.store.reader.api_token(token_hash)
            except NotFoundError:
                self._forget(key)
                return None
            if row["disabled"]:
                return None
            expires = float(row["expires"]) if row["expires"] is not None else float("inf")
            cached = _Cached(
                Principal(
                    user_id=int(row["user_id"]),
                    username=str(row["username"]),
                    role=str(row["role"]),
                    via="token",
                    token_id=int(row["id"]),
                ),
                age_now,
                float(row["created"]),
                expires,
            )
            self._remember(key, cached)
            self.store.writer.write(
                Sql(
                    "UPDATE api_tokens SET last_used = ? WHERE token_hash = ?",
                    (now, token_hash),
                    "token use",
                )
            )
        if now >= cached.expires:
            self._forget(key)
            return None
        return cached.principal

    def forget_token(self, token_hash: str) -> None:
        self._forget("t:" + token_hash)

    def forget_user(self, user_id: int) -> None:
        for key in [k for k, v in self._cache.items() if v.principal.user_id == user_id]:
            self._forget(key)

    # -- cache --------------------------------------------------------------------------

    def _remember(self, key: str, value: _Cached) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > 10_000:
            old, _ = self._cache.popitem(last=False)
            self._touched.pop(old, None)

    def _forget(self, key: str) -> None:
        self._cache.pop(key, None)
        self._touched.pop(key, None)
