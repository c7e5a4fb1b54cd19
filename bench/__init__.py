"""`make bench`: delivery throughput, lateness, memory, reschedule and import, on real servers."""
