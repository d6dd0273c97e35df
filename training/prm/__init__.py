"""Training learned PRMs: step labels from rollouts, datasets, and the two trainers."""
