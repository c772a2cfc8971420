"""Benchmarks: `make bench` (service), `make bench-image`, `make bench-gitops`."""
