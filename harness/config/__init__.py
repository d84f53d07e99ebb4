"""Typed configuration: provider profiles, suites, openness vocabulary, plugin settings, paths."""
