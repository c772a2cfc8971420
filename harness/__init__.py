"""What tests/ and bench/ both drive: the machine's system tools and the local base image.

Plain functions without pytest, so that the benchmarks never import the test suite.
"""
