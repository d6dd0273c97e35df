"""Test-time search: PRM-guided choices among sampled candidate actions."""
