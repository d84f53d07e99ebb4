"""Running a suite: plan what to run, drive lm-eval through a provider, store every generation and score."""
