"""The context-length guard of the `hf` provider: a prompt longer than the model's context is refused
per sample (an error of kind `context_length`), and no answer is given room past the context.

Without it one 60,000-word prompt grew the process to 22.7 GB (attention over ~80,000 positions) and the
kernel killed the run. Memory and time stay bounded whatever the input, in three steps:
1. a text longer than the context times the longest token's characters cannot fit: refused untokenised;
2. a text longer than `_PROBE_CHARS_PER_TOKEN` characters a token of context has only its head of that
   length tokenised: when the head alone is over the context (with a margin for the word the cut
   splits), the text is refused (a 60,000-word prompt costs 65,000 characters of tokenising, not 360,000);
3. otherwise the whole text is tokenised (at most the bound of step 1) and its token count decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The error's first word is its kind (store/sql/failures.py reads it back as `context_length`).
KIND = "context_length"
# A tokenizer's model_max_length above this is transformers' "no limit" placeholder (1e30), not a context.
_SANE_MAX_LENGTH = 10_000_000
# English runs at about 4-5 characters a token: a head of 8 a token of context decides most long texts.
_PROBE_CHARS_PER_TOKEN = 8
# Tokens the cut of the head may add (it splits one word, or one run of symbols): a head this far over
# the context is over whatever follows it.
_CUT_MARGIN = 64


@dataclass(frozen=True)
class ContextGuard:
    """The model's context in tokens (None: unknown, nothing is refused) and the most characters one
    token can stand for (the longest vocabulary entry)."""

    tokens: int | None
    chars_per_token: int

    @classmethod
    def of(cls, config: Any, tokenizer: Any) -> ContextGuard:
        """The guard for a model's config and tokenizer: config.max_position_embeddings, or the
        tokenizer's model_max_length when that is a real limit; the smaller where both are."""
        limits = [getattr(config, "max_position_embeddings", None),
                  getattr(tokenizer, "model_max_length", None)]
        sane = [int(n) for n in limits if isinstance(n, int | float) and 0 < n < _SANE_MAX_LENGTH]
        # A byte-level entry is as long as its bytes and a SentencePiece one as its characters: either
        # way no token stands for more characters than its entry has (special tokens only raise the bound).
        longest = max((len(entry) for entry in tokenizer.get_vocab()), default=1)
        return cls(min(sane) if sane else None, max(1, longest))

    @property
    def error(self) -> str:
        """The one line an over-long prompt's sample gets (the same for every such prompt, so that a run's
        failure line counts them together; the sample's input_tokens says how long it was)."""
        return (f"{KIND}: the prompt does not fit the model's context of {self.tokens:,} tokens "
                "(with room for one token of answer)")

    def encode(self, text: str, tokenize: Callable[[str], list[int]]) -> list[int] | None:
        """The text's token ids, or None when it cannot fit the context (then it is never tokenised in
        full; see the module's three steps). A text that fits comes back whole: `too_long` then decides."""
        if self.tokens is None:
            return tokenize(text)
        if len(text) > self.tokens * self.chars_per_token:
            return None
        probe = self.tokens * _PROBE_CHARS_PER_TOKEN
        if len(text) > probe and len(tokenize(text[:probe])) > self.tokens + _CUT_MARGIN:
            return None
        return tokenize(text)

    def too_long(self, n_tokens: int) -> bool:
        """True when a prompt of n_tokens leaves no room for a token of answer."""
        return self.tokens is not None and n_tokens >= self.tokens

    def room(self, n_tokens: int, max_tokens: int) -> int:
        """The answer's token cap: max_tokens, or what is left of the context after the prompt."""
        return max_tokens if self.tokens is None else max(0, min(max_tokens, self.tokens - n_tokens))
