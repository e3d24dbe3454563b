"""Speed and memory benchmarks for the matcher (issue 3). See bench/README.md."""
