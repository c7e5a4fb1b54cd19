"""Patients in: validating CSV rows and importing them, idempotently, into the store."""
