"""ISO 4217 currency codes and money rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from heroes_core.errors import SpecError

# Active ISO 4217 codes (2024 list); kept here rather than as a dependency: it changes rarely.
ISO_4217 = frozenset({
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD",
    "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN",
    "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF",
    "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA",
    "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN",
    "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWL",
})

CENT = Decimal("0.01")
# Budgets, reservations and prices are NUMERIC(18, 6): 12 digits before the point.
MAX_AMOUNT = Decimal(10) ** 12


def currency(code: str) -> str:
    """Return the code if ISO 4217 knows it; a clear error otherwise."""
    if code not in ISO_4217:
        raise SpecError(f"unknown currency {code!r}", fix="use an ISO 4217 code such as EUR or USD")
    return code


def to_cents(amount: Decimal) -> Decimal:
    """Round to the cent, banker's rounding: what the ledger stores and balances on."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def money(value: object, what: str, *, places: Decimal = CENT, limit: Decimal = MAX_AMOUNT,
          positive: bool = True) -> Decimal:
    """``value`` as an exact amount: a finite Decimal, rounded half-even to ``places`` *before*
    it is checked, positive (or not negative), and below ``limit`` (what the columns hold).

    Anything else (floats, strings, NaN, infinities, amounts that round to nothing or do not
    fit) is a :class:`SpecError` naming the amount and the fix, never a raw exception.
    """
    step = f"a multiple of {places}"
    if isinstance(value, bool) or not isinstance(value, Decimal):
        literal = _as_decimal_literal(value)
        raise SpecError(f"{what} {value!r} is a {type(value).__name__}, not a Decimal",
                        fix=f"pass {literal}: money is exact, floats and text are not")
    if not value.is_finite():
        raise SpecError(f"{what} {value} is not a finite amount",
                        fix=f"give a finite amount such as Decimal('12.50'), {step}")
    if value.copy_abs() >= limit:  # before quantize: 1E+30 has too many digits to round
        raise SpecError(f"{what} {value} is beyond the largest amount HEROES stores "
                        f"({limit - places})", fix=f"give an amount below {limit}")
    rounded = value.quantize(places, rounding=ROUND_HALF_EVEN)
    if rounded.copy_abs() >= limit:
        raise SpecError(f"{what} {value} rounds to {rounded}, beyond the largest amount HEROES "
                        f"stores ({limit - places})", fix=f"give an amount below {limit}")
    if positive and rounded <= 0:
        raise SpecError(f"{what} {value} rounds to {rounded}: it must be at least {places}",
                        fix=f"give a positive amount, {step}")
    if not positive and rounded < 0:
        raise SpecError(f"{what} {value} is negative", fix=f"give an amount of 0 or more, {step}")
    return rounded + 0  # + 0 turns a rounded -0.00 into 0.00


def _as_decimal_literal(value: object) -> str:
    """How to write ``value`` as a Decimal, if it reads as a finite number; an example otherwise."""
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        text = str(value).strip()
        try:
            if Decimal(text).is_finite():
                return f"Decimal('{text}')"
        except InvalidOperation:
            pass
    return "Decimal('12.50')"
