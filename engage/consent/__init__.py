"""Consent: what a patient's words mean, signed unsubscribe links, and who may change what."""
