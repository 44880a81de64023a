"""Staff passwords: argon2id hashes (argon2-cffi), and the rules for a new password.

Verifying costs tens to hundreds of milliseconds of CPU by design, so the panel runs it in
a worker thread (never on the event loop) and at most two at a time. An unknown username is
checked against a dummy hash, so the answer takes as long as for a real one.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kernels.errors import InvalidInputError

MIN_LENGTH = 10
MAX_LENGTH = 1024  #: argon2 takes any length; this only keeps requests small


def check_new_password(password: str, *, username: str) -> None:
    """Refuse passwords that are too short, too long or the username itself."""
    if len(password) < MIN_LENGTH:
        raise InvalidInputError(f"must be at least {MIN_LENGTH} characters", where="password")
    if len(password) > MAX_LENGTH:
        raise InvalidInputError(f"must be at most {MAX_LENGTH} characters", where="password")
    if password.strip().casefold() == username.strip().casefold():
        raise InvalidInputError("must not be the username", where="password")
    if not password.strip():
        raise InvalidInputError("must not be blank", where="password")


class Passwords:
    """Hashing and verification with one hasher (its parameters apply to new hashes)."""

    def __init__(self, hasher: PasswordHasher | None = None, *, concurrency: int = 2) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy = self.hasher.hash("not a password of anyone")
        self._concurrency = concurrency
        self._slots: asyncio.Semaphore | None = None

    def hash(self, password: str, *, username: str) -> str:
        check_new_password(password, username=username)
        return self.hasher.hash(password)

    def verify_sync(self, encoded: str | None, password: str) -> bool:
        try:
            return bool(self.hasher.verify(encoded or self._dummy, password)) and (
                encoded is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, encoded: str | None, password: str) -> bool:
        """``verify_sync`` in a worker thread, at most ``concurrency`` at once."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._concurrency)
        async with self._slots:
            return await asyncio.to_thread(self.verify_sync, encoded, password)

    def needs_rehash(self, encoded: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True
