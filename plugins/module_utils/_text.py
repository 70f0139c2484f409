# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Text from the server made safe to show: control and bidi characters escaped, the
userinfo of URLs redacted, long text clipped.

Everything a server sends is data: a Message, a header, a field value or a URL that goes
into a message, a log line or a warning must not clear a screen, fake a line of output or
show a password given in a URL.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional

# How much of a server's text goes into an error.
MAX_MESSAGE_CHARS = 500

# C0 and C1 control characters, DEL, and the Unicode format characters that reorder or
# hide text on a terminal (bidi overrides, zero-width marks).
_UNPRINTABLE_RE = re.compile(u"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
# scheme://user:password@host: the userinfo of any URL in a text.
# Greedy up to the authority's last "@", since a password may hold one.
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def printable(text: Any) -> str:
    """``text`` with control and bidi characters escaped (``\\x1b``), safe for a terminal or log.

    Everything the server sends is data: a Message, a header or a field value that goes
    into a message must not clear a screen or fake a line of output.
    """
    text = text if isinstance(text, str) else str(text)
    return _UNPRINTABLE_RE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def redact_url(text: str) -> str:
    """``text`` with the userinfo of every URL in it (``https://user:secret@``) hidden."""
    return _USERINFO_RE.sub(r"\1<redacted>@", text)


def url_secrets(url: Optional[str]) -> List[str]:
    """The userinfo of ``url`` (``user:secret``, and the secret alone), for no_log lists."""
    match = re.match(r"(?i)^[a-z][a-z0-9+.-]*://([^/?#\s]*)@", url or "")
    if not match or not match.group(1):
        return []
    userinfo = match.group(1)
    return [value for value in (userinfo, userinfo.partition(":")[2]) if value]


def snippet(body: bytes) -> str:
    """The start of an unexpected body, for an error message a human can place."""
    text = body[:80].decode("utf-8", "replace")
    text = " ".join(text.split())
    return repr(text) if text else "an empty body"


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else text[:limit] + "... (%d characters in all)" % len(text)
