"""Learned PRMs: a token-classification PRM and an implicit PRM, loaded from a saved directory."""
