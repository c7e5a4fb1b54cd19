"""Rules for free text at engage's edges: what can be stored, and what is masked before logging."""
