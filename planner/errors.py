"""The base of every domain error: a refusal with a message meant for the person who asked."""


class PlannerError(Exception):
    """An action the planner refuses, with a reason that can be shown as it is."""
