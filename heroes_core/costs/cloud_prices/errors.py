"""The errors of the cloud price lists, apart so both clients, the model and the cache share them."""

from __future__ import annotations

from heroes_core.errors import HeroesError


class UnknownPriceError(HeroesError, KeyError):
    """No price for a provider/region/instance type in the price list at hand."""

    def __str__(self) -> str:  # KeyError would print the message as a quoted repr
        return str(self.args[0]) if self.args else ""


class PriceFetchError(HeroesError):
    """A provider's price API could not be read or answered something unusable."""


class PriceCacheError(HeroesError):
    """The price cache file is unreadable or not a price list."""
