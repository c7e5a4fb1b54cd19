"""The `engage` command line."""
