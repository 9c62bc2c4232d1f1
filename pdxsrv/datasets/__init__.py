"""Datasets: synthetic generators of small, exactly annotated datasets in the on-disk formats the original imported."""
