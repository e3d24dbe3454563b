"""Bulk doors into kindred: files that become listings through the same rules as the API."""
