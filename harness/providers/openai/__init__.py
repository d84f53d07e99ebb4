"""The OpenAI-compatible API provider: the `openai` SDK client, retries and rate limits."""
