"""A model's lifecycle (`[lifecycle]` in a profile): when it was released, whether its retirement is
announced, what replaces it, and, for open weights, whether the vendor can take them (or the right
to use them) back. A run on a retired model fails before its first request, naming the replacement;
within `WARN_DAYS` of retirement it warns.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.errors import HarnessError

WARN_DAYS = 90


class Lifecycle(BaseModel):
    """Dates as the vendor published them, with the page and the day it was read."""

    model_config = ConfigDict(extra="forbid")

    released: date
    deprecation_announced: date | None = None
    retirement: date | None = None  # the shutdown date: requests fail from this day on
    replacement: str | None = None  # the vendor's recommended replacement
    weights_withdrawable: bool | None = None  # open weights: can the licence be revoked or use restricted?
    withdrawal_note: str | None = None
    source: str = Field(pattern=r"^https?://")
    as_of: date  # when the source was read
    note: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Lifecycle:
        for name in ("deprecation_announced", "retirement"):
            value = getattr(self, name)
            if value is not None and value < self.released:
                raise ValueError(f"{name} {value} is before the release date {self.released}")
        if self.deprecation_announced and self.retirement and self.retirement < self.deprecation_announced:
            raise ValueError("retirement is before the deprecation was announced")
        if self.retirement is not None and self.deprecation_announced is None:
            raise ValueError("a retirement date needs the date its deprecation was announced")
        if self.as_of < self.released:
            raise ValueError(f"as_of {self.as_of} is before the release date {self.released}")
        return self

    def days_to_retirement(self, today: date | None = None) -> int | None:
        """Days until shutdown (negative once past); None when no retirement is announced."""
        if self.retirement is None:
            return None
        return (self.retirement - (today or date.today())).days


def lifecycle_warning(name: str, lifecycle: Lifecycle | None, today: date | None = None) -> str | None:
    """None, a warning line (retirement within WARN_DAYS), or HarnessError (retired)."""
    if lifecycle is None:
        return None
    days = lifecycle.days_to_retirement(today)
    if days is None or days > WARN_DAYS:
        return None
    instead = f"; the vendor recommends {lifecycle.replacement}" if lifecycle.replacement else ""
    if days <= 0:
        raise HarnessError(f"provider '{name}': the model was retired on {lifecycle.retirement} "
                           f"({lifecycle.source}, read {lifecycle.as_of}){instead}; point the profile at it")
    return (f"warning: provider '{name}': the model retires on {lifecycle.retirement}, in {days} days"
            f"{instead}")
