"""Measuring PRMs: first-error detection (ProcessBench and per-family sets) and best-of-N."""
