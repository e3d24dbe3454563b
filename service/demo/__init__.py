"""Demo data for `make run`: a plausible city of partners, listings and members, all invented."""
