"""Backends: the store (Chroma), embedders and LLMs, each chosen by a setting from a registry
that also holds a fake for tests (see registry.py)."""
