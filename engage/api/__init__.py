"""The HTTP API (FastAPI): staff routes behind role-checked bearer tokens, provider webhooks."""
