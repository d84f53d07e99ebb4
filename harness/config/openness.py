"""The openness registry's vocabulary (docs/openness.md): how open a model is and what its licence allows.

Profiles are validated against it, so "open-source" cannot be claimed for weights without data, and a
licence is an SPDX id, a `LicenseRef-` id for custom terms, `proprietary`, or `NOASSERTION`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

OpennessClass = Literal["open-source", "open-weight", "proprietary"]

# SPDX ids seen on model cards, with whether the OSI approves the licence. Others are accepted as
# `LicenseRef-<name>` (custom terms: never OSI-approved) or added here with a source.
SPDX_LICENCES: dict[str, bool] = {
    "Apache-2.0": True, "MIT": True, "BSD-2-Clause": True, "BSD-3-Clause": True, "MPL-2.0": True,
    "GPL-2.0-only": True, "GPL-3.0-only": True, "LGPL-3.0-only": True, "AGPL-3.0-only": True,
    "CC-BY-4.0": False, "CC-BY-SA-4.0": False, "CC-BY-NC-4.0": False, "CC-BY-NC-SA-4.0": False,
    "ODC-By-1.0": False, "CDLA-Permissive-2.0": False, "OpenRAIL": False,
    "BigScience-BLOOM-RAIL-1.0": False, "BigScience-OpenRAIL-M": False, "CreativeML-OpenRAIL-M": False,
}
_LICENCE_REF = re.compile(r"LicenseRef-[A-Za-z0-9.\-]+")

RestrictionKind = Literal[
    "user-cap",  # a licence is needed above some number of users
    "acceptable-use",  # an acceptable-use or prohibited-use policy binds the deployer
    "field-of-use",  # whole fields of use are excluded (e.g. RAIL use restrictions)
    "attribution",  # notices or "built with" statements are required
    "naming",  # derived models must carry (or avoid) a name
    "output-use",  # outputs may not be used for some purposes (e.g. training competing models)
    "non-commercial",
    "flow-down",  # the terms must be passed on to downstream users
    "vendor-control",  # the vendor may change, deprecate or withdraw the model at will
]


class Restriction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RestrictionKind
    detail: str = Field(min_length=1)


# The European Open Source AI Index's dimensions (osai-index.eu; Liesenfeld & Dingemanse 2024), in
# its three areas: availability, documentation, access. The index stopped grading `package` and
# `api` on 2026-03-13; profiles carry its last grades for them.
DIMENSIONS = (
    "datasources_basemodel", "datasources_endmodel", "weights_basemodel", "weights_endmodel", "trainingcode",
    "code", "hardware_architecture", "preprint", "paper", "modelcard", "datasheet", "package", "api", "licenses",
)
Grade = Literal["open", "partial", "closed"]
GRADE_SCORE = {"open": 1.0, "partial": 0.5, "closed": 0.0}


class Dimension(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grade: Grade
    link: str | None = Field(default=None, pattern=r"^https?://")
    note: str | None = None


class IndexGrades(BaseModel):
    """A model's grades on the index's 14 dimensions, with where and when they were read. `entry` names
    the index entry graded (the index grades a family's flagship; it may not be this exact size)."""

    model_config = ConfigDict(extra="forbid")

    entry: str
    source: str = Field(pattern=r"^https?://")
    as_of: date
    dimensions: dict[str, Dimension]

    @model_validator(mode="after")
    def _all_dimensions(self) -> IndexGrades:
        unknown = sorted(set(self.dimensions) - set(DIMENSIONS))
        if unknown:
            raise ValueError(f"unknown openness dimension '{unknown[0]}'; the index's are {', '.join(DIMENSIONS)}")
        missing = [d for d in DIMENSIONS if d not in self.dimensions]
        if missing:
            raise ValueError(f"openness dimension '{missing[0]}' is missing ({len(missing)} of {len(DIMENSIONS)})")
        return self

    @property
    def score(self) -> float:
        """The index's summary: open 1, partial 0.5, closed 0, averaged over the 14 dimensions."""
        return sum(GRADE_SCORE[d.grade] for d in self.dimensions.values()) / len(DIMENSIONS)


class Openness(BaseModel):
    """How open a model is: the open-source / open-weight / proprietary split, the Model Openness
    Framework class (I is most open), OSI's Open Source AI Definition status, and the licence."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    class_: OpennessClass = Field(alias="class")
    mof_class: Literal["I", "II", "III"] | None = None  # None: not assessed
    osaid: Literal["compliant", "not-compliant", "unknown"] = "unknown"
    licence: str  # SPDX id, LicenseRef-…, "proprietary" or "NOASSERTION"
    weights: bool
    code: bool
    data: bool
    restrictions: list[Restriction] = []
    sources: list[str] = []
    index: IndexGrades | None = None  # graded the way the field grades it; shipped profiles carry it

    @model_validator(mode="after")
    def _consistent(self) -> Openness:
        if not (self.licence in SPDX_LICENCES or _LICENCE_REF.fullmatch(self.licence)
                or self.licence in ("proprietary", "NOASSERTION")):
            raise ValueError(
                f"licence '{self.licence}' is not a known SPDX id, LicenseRef-…, proprietary or NOASSERTION"
            )
        if self.class_ == "proprietary" and self.weights:
            raise ValueError("class 'proprietary' with published weights: use 'open-weight'")
        if self.class_ != "proprietary" and not self.weights:
            raise ValueError(f"class '{self.class_}' needs weights = true")
        if self.class_ == "open-source":
            if not (self.code and self.data):
                raise ValueError("class 'open-source' needs weights, code and data all published; use 'open-weight'")
            if not self.osi_approved or any(r.kind in _NOT_OPEN for r in self.restrictions):
                raise ValueError("class 'open-source' needs an OSI-approved licence without use restrictions")
        if self.osaid == "compliant" and self.class_ != "open-source":
            raise ValueError("osaid 'compliant' applies only to class 'open-source'")
        return self

    @property
    def osi_approved(self) -> bool:
        return SPDX_LICENCES.get(self.licence, False)


_NOT_OPEN = {"user-cap", "field-of-use", "non-commercial", "acceptable-use", "output-use"}


def exposure(openness: Openness) -> float:
    """0 (nothing a vendor can take away) to 1 (everything is the vendor's). With the index's grades:
    1 - their score (a model open on every dimension 0, closed on all 1). Without them, by class and
    licence: proprietary 1.0; open-weight 0.5, plus 0.1 per kind of use restriction (at most 0.9);
    open-source 0.0. Used as the incumbent-openness part of the lock-in risk score.
    """
    if openness.index is not None:
        return 1.0 - openness.index.score
    if openness.class_ == "proprietary":
        return 1.0
    if openness.class_ == "open-weight":
        kinds = {r.kind for r in openness.restrictions}
        return min(0.9, 0.5 + 0.1 * len(kinds))
    return 0.0
