"""Delivery channels: one module per provider behind the `Channel` interface in `base`."""
