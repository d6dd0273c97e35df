"""Learned PRMs (token-classification, implicit, value-head), loaded from a saved directory."""
