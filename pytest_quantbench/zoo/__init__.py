"""Recipes behind `builtin:` models and datasets: tiny generated ones for smoke runs, real ones built offline."""
