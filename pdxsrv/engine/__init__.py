"""The model zoo and training engine (imports paddle; only job processes load it)."""
