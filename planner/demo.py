"""A reproducible demo company and organiser for trying the planner."""

import random
import secrets
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import DEMO_MARKER
from .directory import PersonRow
from .models import EventKind, Organiser, OrganiserRole, Series, utcnow
from .recurrence import Pattern
from .services.accounts import create_organiser, set_password
from .services.events import KIND_DEFAULTS
from .services.people import write_rows
from .services.series import SeriesDraft, create_series

DEMO_EMAIL = "organiser@demo.example.com"
#: written into the instance folder by the demo command: this installation is a demo, its mailbox may be shown
DEPARTMENTS = ("Engineering", "Sales", "Marketing", "Finance", "People", "Operations", "Support", "Product")
DEPARTMENT_WEIGHTS = (30, 16, 9, 7, 5, 12, 14, 7)
LEVEL_WEIGHTS = (4, 26, 30, 20, 11, 6, 3)
FIRST = ("Ada", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemi", "Lars", "Mei",
         "Nils", "Olga", "Pablo", "Queenie", "Rafael", "Sofia", "Tomás", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoë")
LAST = ("Andersen", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Horvat", "Ivanova", "Jansen",
        "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka")


def demo_rows(count: int, ladder: list[str], seed: int = 7) -> list[PersonRow]:
    """Return count made-up staff spread over departments and a realistic level pyramid."""
    rng = random.Random(seed)
    weights = LEVEL_WEIGHTS[: len(ladder)] + (1,) * max(0, len(ladder) - len(LEVEL_WEIGHTS))
    rows = []
    for number in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append(
            PersonRow(
                line=number + 2,
                email=f"{first}.{last}.{number}@demo.example.com".lower().encode("ascii", "ignore").decode(),
                name=f"{first} {last}",
                department=rng.choices(DEPARTMENTS, DEPARTMENT_WEIGHTS)[0],
                level=rng.choices(range(len(ladder)), weights)[0],
                joined_on=date(2026, 1, 1) - timedelta(days=rng.randrange(0, 3650)),
                is_active=rng.random() > 0.02,
            )
        )
    return rows


def load_demo(session: Session, count: int, ladder: list[str]) -> tuple[str, str]:
    """Load (or refresh) the demo company and return the demo organiser's email and a new password."""
    write_rows(session, demo_rows(count, ladder), deactivate_missing=False)
    password = secrets.token_urlsafe(12)
    organiser = session.scalar(select(Organiser).where(Organiser.email == DEMO_EMAIL))
    if organiser is None:
        organiser = create_organiser(session, DEMO_EMAIL, "Demo Organiser", password, OrganiserRole.ADMIN)
    else:
        set_password(organiser, password)
    session.flush()
    if session.scalar(select(Series.id).where(Series.organiser_id == organiser.id)) is None:
        create_series(session, organiser.id, demo_series(date.today()), utcnow())
    return DEMO_EMAIL, password


def demo_series(today: date) -> SeriesDraft:
    """A monthly mixer lunch on the first Tuesday, its first round due to be planned now."""
    lunch = KIND_DEFAULTS[EventKind.LUNCH]
    return SeriesDraft(
        kind=EventKind.LUNCH, title="Monthly mixer lunch", description="Meet colleagues from other teams over lunch.",
        location="Canteen, 2nd floor", capacity=lunch.capacity, start=lunch.start, end=lunch.end, timezone="Europe/Berlin",
        pattern=Pattern("monthly_weekday", weekday=1, nth=1), starts_on=today + timedelta(days=1), plan_days_ahead=35,
    )


def mark_demo(instance_path: str) -> None:
    """Record in the instance folder that the demo command set this installation up."""
    (Path(instance_path) / DEMO_MARKER).write_text("Written by `flask demo`: the Demo mailbox is shown to organisers.\n")
