"""What tests/ and bench/ both drive: the machine's system tools, the local base image, and
servers on free loopback ports.

Plain functions without pytest, so that the benchmarks never import the test suite.
"""
