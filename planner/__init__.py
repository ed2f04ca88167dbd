"""Team Planner: balanced team events with calendar invites and mixed tables."""

__version__ = "0.1.0"
