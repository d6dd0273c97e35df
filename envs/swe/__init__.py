"""The SWE family: real repositories and their real test suites, in a sandbox."""
