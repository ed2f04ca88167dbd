"""Use cases called by views and commands: they flush, the caller commits."""
