"""The staff and operator console: server-rendered pages over the same services as the API.

It never imports engage.api (nor the API it): both are front doors, composed in engage.asgi.
"""
