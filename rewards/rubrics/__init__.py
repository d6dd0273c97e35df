"""Rubrics: weighted criteria, their programmatic checks, and the rubric-agent PRM."""
