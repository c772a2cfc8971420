"""The apps `make bench` runs next to the service: the ceiling and the seed-style baseline."""
