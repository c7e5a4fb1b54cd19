"""Rendering messages from the clinic's templates: sandboxed Jinja2, per channel and locale."""
