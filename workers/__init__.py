"""The Celery side of engage: the app and its thin tasks."""
