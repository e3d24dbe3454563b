"""Entities' vocabulary, rules and errors. Imports no framework: no Flask, no SQLAlchemy."""
