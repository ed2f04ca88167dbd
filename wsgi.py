"""WSGI entry point: gunicorn wsgi:app, or flask --app wsgi."""

from planner.light import hold_collection

hold_collection()  # before the app's imports, under a light `flask` command: see planner.light

from planner.app import create_app  # noqa: E402

app = create_app()
