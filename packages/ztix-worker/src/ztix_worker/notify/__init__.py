"""Notification delivery: the ``[notifications]`` settings, the SMTP and webhook senders,
and the loop that expands intents and delivers each on its own retry schedule."""
