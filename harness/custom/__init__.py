"""A team's own prompts as lm-eval tasks: validated JSONL in, a runnable task folder out."""
