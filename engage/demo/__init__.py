"""The demo and the embedded sample patients."""
