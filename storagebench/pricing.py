"""Price sheets: what a vCPU-hour, a GB-month of storage and a million requests cost, to turn the measured
server cost (:mod:`storagebench.measuring.server`) into money.

A sheet is a YAML file (an example ships in ``pricing/``; nothing is fetched)::

    source: "where the figures come from"     # required, shown on the report
    as_of: 2026-12-06                         # required, the date the figures hold for
    currency: USD
    vcpu_hour: 0.0504                         # one vCPU for one hour
    storage_gb_month: 0.08                    # a self-run engine's data directory (block storage)
    apis:                                     # a managed API a store's engine answers (Capabilities.priced_api)
      s3:
        storage_gb_month: 0.023               # replaces the block price for stores speaking this API
        requests_per_million: {put: 5.00, get: 0.40, delete: 0.00}

A GB is 2^30 bytes, as the clouds bill storage.  The arithmetic (the sheet's methods, and the per-store
sums of :mod:`storagebench.report.costs`):

* CPU per million operations = server CPU µs per operation x 10^6 operations x 10^-6 s/µs
  / 3,600 s/h x ``vcpu_hour``: the CPU the engine's processes used, priced as vCPU time (idle capacity,
  memory and licences are not in it);
* requests per million operations = sum over the operations of their share x the requests each makes
  (the adapter's ``Capabilities.requests``) x the price per million requests;
* storage per month = footprint / 2^30 x ``storage_gb_month``.

A sheet that is malformed, has an unknown key, a negative or non-finite price: one line, exit 2.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from storagebench.errors import UsageError

#: bytes in the GB of a GB-month
GB = 2**30
#: a price: a finite number >= 0, never a boolean or a string
Price = Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]


class ApiPrices(BaseModel):
    """The prices of one managed API (e.g. ``s3``)."""

    model_config = ConfigDict(extra="forbid")
    storage_gb_month: Price | None = None
    requests_per_million: dict[str, Price] = Field(default_factory=dict)


class PriceSheet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1)
    as_of: datetime.date
    currency: str = Field(default="USD", min_length=1)
    vcpu_hour: Price
    storage_gb_month: Price
    apis: dict[str, ApiPrices] = Field(default_factory=dict)

    @field_validator("source", "currency")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    def cpu_per_million_ops(self, cpu_us_per_op: float) -> float:
        """What the server's CPU costs per million operations."""
        return cpu_us_per_op * 1e6 * 1e-6 / 3600 * self.vcpu_hour

    def storage_price(self, api: str) -> tuple[float, str]:
        """Per GB-month for a store answering ``api`` (empty: none), and what that price is for: the API's
        own storage where the sheet lists it, else a self-run engine's block storage."""
        prices = self.apis.get(api) if api else None
        if prices is not None and prices.storage_gb_month is not None:
            return prices.storage_gb_month, api
        return self.storage_gb_month, "block storage"


def load_sheet(path: Path) -> PriceSheet:
    """The sheet at ``path``, or :class:`UsageError` in one line naming it."""
    from storagebench.inputs import load_yaml, read_text

    data = load_yaml(read_text(path, "price sheet"), f"price sheet {path}")
    if not isinstance(data, dict):
        raise UsageError(f"price sheet {path} must be a mapping of prices (see pricing/*.example.yaml)")
    try:
        return PriceSheet.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'sheet'}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"price sheet {path}: {problems}") from None
