"""Judges: an LLM reads a step and a criterion and returns P(the step meets it)."""
