# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the faces' own options mean, and the one way to refuse one.

``OptionError`` is a value a user gave that cannot be used: the module base turns it into
a clean failure naming the option, the inventory into a parser error, the event source
into a start-up error. Anything else that goes wrong is a bug, and shows as one.
Ages (``24h``), UNIX timestamps and ISO 8601 dates are parsed here once, for every face.
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any, Mapping, Optional


class OptionError(ValueError):
    """An option (or setting) has a value that cannot be used; the message names it."""


def as_bool(name: str, value: Any) -> bool:
    """A boolean option from a bool or its text (``true``/``false``, ``yes``/``no``, ``on``/``off``,
    ``1``/``0``, ``y``/``n``, as Ansible takes them), the same in every face."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n"):
        return False
    raise OptionError("%s=%r is not a boolean: use true or false" % (name, value))


def require_text(params: Mapping[str, Any], name: str) -> str:
    """``params[name]`` stripped, or an OptionError when it is empty (or only spaces)."""
    value = params[name]
    if value is None or not value.strip():
        raise OptionError("%s must not be empty" % name)
    return value.strip()


_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE_RE = re.compile(r"\s*(?:[0-9]+\s*[smhdw]\s*)+")
_AGE_PART_RE = re.compile(r"([0-9]+)\s*([smhdw])")
# The longest age accepted, 100 years: backups live for days or weeks, so a longer age is a
# typo, and one long enough would overflow the float of the timestamp it gives.
AGE_MAX_DAYS = 36525
AGE_MAX_SECONDS = AGE_MAX_DAYS * 86400
# Significant digits of one number in an age. Ten digits of seconds already exceed
# AGE_MAX_SECONDS, so a longer number is refused unconverted (int() of thousands of digits
# is slow, and refused by Python itself past 4300).
AGE_MAX_DIGITS = 10
# UNIX timestamps accepted by since: 0 to the last second of year 9999, as far as datetime goes.
TIMESTAMP_MAX = 253402300799
TIMESTAMP_MAX_ISO = "9999-12-31T23:59:59Z"
# No age, timestamp or ISO 8601 date is this long; a longer since is refused unparsed.
SINCE_MAX_LENGTH = 64
_TIMESTAMP_RE = re.compile(r"([0-9]+)(?:\.[0-9]+)?")
# Numbers in a form a timestamp does not take: a sign, an exponent, a bare dot, inf, nan.
_NUMBER_RE = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?|inf(?:inity)?|nan)",
                        re.IGNORECASE)


def shown_value(value: Any) -> str:
    """``value`` for a message: its repr, cut short when it is long."""
    if isinstance(value, int) and value.bit_length() > 128:
        return "an integer of %d bits" % value.bit_length()  # repr() itself fails past 4300 digits
    text = repr(value)
    if len(text) <= 40:
        return text
    if isinstance(value, str):
        cut = repr(value[:32])
        return "%s...%s (%d characters)" % (cut[:-1], cut[-1], len(value))
    return text[:32] + "..."


def parse_age(text: Any, name: Optional[str] = None) -> Optional[int]:
    """Seconds in an age such as ``90m``, ``26h``, ``7d`` or ``1d12h``; None if it is not one.

    An age of more than AGE_MAX_DAYS (100 years) is an OptionError that says the limit;
    ``name`` (``since``, ``interval``...) names the option in its message.
    """
    if not isinstance(text, str) or not _AGE_RE.fullmatch(text):
        return None
    seconds = 0
    for number, unit in _AGE_PART_RE.findall(text):
        digits = number.lstrip("0")
        if len(digits) > AGE_MAX_DIGITS:
            seconds = AGE_MAX_SECONDS + 1
            break
        seconds += int(digits or "0") * _AGE_UNITS[unit]
        if seconds > AGE_MAX_SECONDS:
            break
    if seconds > AGE_MAX_SECONDS:
        raise OptionError("%s is out of range: an age is at most %dd (100 years)" % (
            "%s=%s" % (name, shown_value(text)) if name else "the age %s" % shown_value(text), AGE_MAX_DAYS))
    return seconds


def parse_since(value: Any, now: Optional[float] = None) -> float:
    """A UNIX timestamp from an age (``24h``, ``7d``), a timestamp, or an ISO 8601 date.

    Ages go back at most AGE_MAX_DAYS (100 years), timestamps run from 0 to TIMESTAMP_MAX
    (the end of year 9999), dates are what ``datetime`` takes (years 1 to 9999, UTC when no
    zone is given). Raises OptionError with a message that says so for anything else.
    """
    now = time.time() if now is None else now
    out_of_range = "since=%s is out of range: a UNIX timestamp is from 0 to %d (%s)"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value <= TIMESTAMP_MAX:  # NaN fails this too
            raise OptionError(out_of_range % (shown_value(value), TIMESTAMP_MAX, TIMESTAMP_MAX_ISO))
        return float(value)
    text = str(value).strip()
    digits = _TIMESTAMP_RE.fullmatch(text)
    if digits:
        # Compared by its digits first: float() would turn thousands of 9s into inf.
        if len(digits.group(1).lstrip("0")) > len(str(TIMESTAMP_MAX)) or float(text) > TIMESTAMP_MAX:
            raise OptionError(out_of_range % (shown_value(value), TIMESTAMP_MAX, TIMESTAMP_MAX_ISO))
        return float(text)
    if len(text) > SINCE_MAX_LENGTH:
        raise OptionError("since=%s is too long: an age, a UNIX timestamp or an ISO 8601 date is at most %d "
                          "characters" % (shown_value(value), SINCE_MAX_LENGTH))
    age = parse_age(text, name="since")
    if age is not None:
        return now - age
    if _NUMBER_RE.fullmatch(text):
        raise OptionError("since=%s is not accepted: a UNIX timestamp is written in plain digits, from 0 to %d "
                          "(%s); an age back from now is written like 24h or 7d"
                          % (shown_value(value), TIMESTAMP_MAX, TIMESTAMP_MAX_ISO))
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return when.timestamp()
    except (ValueError, OverflowError):
        raise OptionError("since=%r is not an age such as 24h or 7d, a UNIX timestamp, "
                          "or an ISO 8601 date such as 2026-01-31T12:00:00Z" % (value,)) from None
