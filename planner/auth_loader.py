"""Flask-Login's user loader."""

import re

from flask import Flask

from .extensions import db, login_manager
from .models import Organiser

#: the form of Organiser.get_id(): "<id>:<session version>"
_USER_ID = re.compile(r"([0-9]{1,18}):([0-9]{1,18})")


def init_app(app: Flask) -> None:
    """Teach Flask-Login how to find the logged-in organiser."""

    @login_manager.user_loader
    def load_organiser(user_id: str) -> Organiser | None:
        match = _USER_ID.fullmatch(user_id)
        if match is None:
            return None
        organiser = db.session.get(Organiser, int(match[1]))
        if organiser is None or organiser.session_version != int(match[2]) or not organiser.is_active:
            return None
        return organiser
