"""Everything that talks to the outside: database, Redis, queues, channels."""
