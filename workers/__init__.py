"""RQ entry points: thin functions that take ids, build what they need and call services."""
