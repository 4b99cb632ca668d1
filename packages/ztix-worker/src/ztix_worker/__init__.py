"""ztix worker: Dramatiq actors, outbox relay, schedules."""
