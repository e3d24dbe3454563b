"""Metrics (Prometheus), structured logs and the request id that ties a request to its jobs."""
