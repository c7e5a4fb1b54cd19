"""Delivery: claim due messages from the outbox, decide at send time, send once, record."""
