"""The one error of the options package: every bad field of a construction, named at once."""

from __future__ import annotations

from lsmdb.errors import InvalidArgumentError


class InvalidOptionsError(InvalidArgumentError):
    """One or more option fields are invalid.

    ``problems`` is a list of ``(field_path, reason)``; ``fields`` the paths alone. The message
    names every one: ``compaction.size_ratio: must be >= 2, got 1; block_bytes: ...``.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = list(problems)
        self.fields = [path for path, _ in self.problems]
        detail = "; ".join(f"{path}: {reason}" for path, reason in self.problems)
        noun = "field" if len(self.problems) == 1 else "fields"
        super().__init__(f"invalid options ({len(self.problems)} {noun}): {detail}")

    def __reduce__(self):
        return (type(self), (self.problems,))
