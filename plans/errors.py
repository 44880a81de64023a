"""Errors of the training domain (a branch of kernels.errors.InvalidInputError)."""

from __future__ import annotations

from collections.abc import Sequence

from kernels.errors import InvalidInputError


class PlanValidationError(InvalidInputError):
    """A plan (or exercise catalogue) that fails validation.

    ``problems`` lists every ``(field path, problem)`` found, not only the first, so a
    coach fixing a file sees all of them at once; the message shows them one per line.
    """

    def __init__(self, problems: Sequence[tuple[str, str]], *, source: str = "plan") -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {path or '(top level)'}: {problem}" for path, problem in problems)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''}:\n{lines}", where=source)
