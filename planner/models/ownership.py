"""Who else runs an event or a series: its co-organisers, beside the organiser who created it."""

from sqlalchemy import Column, ForeignKey, Table

from ..extensions import db

#: organisers added to one event by its owner or an admin
event_co_organiser = Table(
    "event_co_organiser",
    db.metadata,
    Column("event_id", ForeignKey("event.id", ondelete="CASCADE"), primary_key=True),
    Column("organiser_id", ForeignKey("organiser.id", ondelete="CASCADE"), primary_key=True, index=True),
)

#: organisers added to a series: they share every round of it
series_co_organiser = Table(
    "series_co_organiser",
    db.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("organiser_id", ForeignKey("organiser.id", ondelete="CASCADE"), primary_key=True, index=True),
)
