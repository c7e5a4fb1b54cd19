"""Operator services: dead letters, the status snapshot, broker queue depth, liveness.

Each module takes sessions, settings or a clock and returns plain values; the CLI (`engage
failed`, `engage status`), the ops API routes and the metrics collectors only present them.
"""
