"""Judges: versioned prompt files, how a judge's reply is read, and who may judge whom."""
