"""Providers: the contract (base), the registry, and the built-in kinds."""
