"""engage's exceptions: one shallow hierarchy, each class says when it is raised."""

from __future__ import annotations


class EngageError(Exception):
    """Base of every error engage raises on purpose."""


class ConfigError(EngageError):
    """A setting from the environment is missing or malformed."""


class ScheduleError(EngageError):
    """schedules.yaml (or a template it names) is invalid; carries every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class TemplateProblem(EngageError):
    """A template is missing, does not compile, or needs a variable the context lacks."""


class PlanningError(EngageError):
    """An enrollment cannot be planned (unknown sequence, missing anchor event, bad zone)."""


class InvalidInput(EngageError):
    """A value from outside (CSV row, API body, CLI flag) is invalid; names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFound(EngageError):
    """A patient, enrollment, appointment or message id does not exist."""


class Conflict(EngageError):
    """A write would duplicate an existing record (same phone or email) or break a state rule."""


class DuplicateError(Conflict):
    """A new or changed patient would share `field` with patient `existing_id`."""

    def __init__(self, field: str, existing_id: int) -> None:
        super().__init__(f"{field}: already belongs to patient {existing_id}")
        self.field = field
        self.existing_id = existing_id


class DeliveryError(EngageError):
    """A provider refused or failed a send; `permanent` says whether a retry can help."""

    def __init__(
        self, reason: str, *, permanent: bool, retry_after: float | None = None, code: str = ""
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.code = code
