"""The decision-review report: one self-contained HTML page and its Markdown twin."""
