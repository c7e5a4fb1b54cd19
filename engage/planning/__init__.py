"""Pure time logic: the planner and the local-time rules it stands on."""
