"""Use cases: one plain function per thing a caller can do, each owning one transaction."""
