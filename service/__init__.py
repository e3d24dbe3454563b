"""kindred: a few good groups and peers with shared values, suggested gently."""
