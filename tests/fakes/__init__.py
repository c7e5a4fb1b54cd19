"""Real, small implementations of the outside world for tests (provider HTTP servers)."""
