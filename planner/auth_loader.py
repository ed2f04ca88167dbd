"""Flask-Login's user loader."""

from flask import Flask

from .extensions import db, login_manager
from .models import Organiser


def init_app(app: Flask) -> None:
    """Teach Flask-Login how to find the logged-in organiser."""

    @login_manager.user_loader
    def load_organiser(user_id: str) -> Organiser | None:
        return db.session.get(Organiser, int(user_id)) if user_id.isdigit() else None
