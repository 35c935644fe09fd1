"""Thin Ray actors over the pure modules."""
