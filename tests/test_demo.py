"""The demo command: a company, an organiser and a monthly series whose first round can be planned at once."""

from sqlalchemy import func, select

from planner.extensions import db
from planner.models import Event, Person, Series


def test_the_demo_loads_a_company_and_a_series_and_runs_twice(app):
    db.drop_all()
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["demo", "--people", "40"])
        assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(Person.id))) == 40
    (series,) = db.session.scalars(select(Series)).all()
    assert series.title == "Monthly mixer lunch"
    planned = runner.invoke(args=["series", "run"])
    rounds = db.session.scalars(select(Event).where(Event.series_id == series.id)).all()
    assert rounds and "created, waiting for review" in planned.output, planned.output  # one, or two when 28 days apart
    assert all(len(round_.proposals) == 8 for round_ in rounds)
