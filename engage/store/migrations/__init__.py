"""Alembic migrations of engage's database; run them with `engage db upgrade`."""
