"""Light `flask` commands (mail ingest, outbox send, ...): how they are recognised, and no cyclic GC while they start."""

import gc
import os
import sys

#: the command groups that need neither the web pages nor the migrations: `flask mail ingest` starts without them
LIGHT_COMMANDS = frozenset({"mail", "outbox", "series", "reminders", "feedback", "offers", "people", "organiser", "backup",
                            "privacy"})

#: the collector's state before hold_collection(), restored by release_collection()
_held: list[bool] = []


def is_light_command(argv: list[str] | None = None) -> bool:
    """Tell whether this process is a `flask` command of a light group (the first words of its arguments say)."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        return False
    words = [word for word in (sys.argv[1:] if argv is None else argv) if not word.startswith("-")]
    return bool(LIGHT_COMMANDS.intersection(words[:3]))


def hold_collection() -> None:
    """Under a light command, pause the cyclic garbage collector until its command is loaded.

    Importing some 550 modules makes many objects and little garbage, yet the collector would walk
    the growing heap again and again: a tenth of the CPU time of `flask mail ingest`.
    """
    if is_light_command() and not _held:
        _held.append(gc.isenabled())
        gc.disable()


def release_collection() -> None:
    """Once the command is loaded: freeze what start-up made (it lives to the exit) and collect as before."""
    if _held:
        gc.freeze()
        if _held.pop():
            gc.enable()
