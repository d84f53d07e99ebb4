"""Analysis over the store only: agreement between runs (gaps and verdicts come later)."""
