"""The local transformers provider: weight loading, the rowwise batched decoder, shared-prefix prefill."""
