"""The delivery tooling the pipeline runs: ``python -m ci COMMAND``."""
