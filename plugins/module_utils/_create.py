# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Creating at most once: the rule every create of the collection keeps (backups now, groups next).

A create is not idempotent on the server, and its answer can be lost after the server acted
(a timeout, a reset, an HTTP 5xx, a garbled answer, an answer to another action). So:

- A refusal that proves nothing was done (``_client.may_have_happened`` is false) is raised,
  unless it says "try again": the gateway's RetCode 150/153, HTTP 429, or a connection that
  could not be made. That is sent again after the client's backoff, within ``max_retries``
  and the retry time budget (``Backoff.budget``), which counts every wait between sends.
- Any other failure may have created the thing, and then the create is never sent again.
  The listing is looked up instead, because listings are eventually consistent and may show a
  new row only some calls later: at once, then after 0.5 s, each wait 1.5 times the one before
  up to 5 s (about 17 lookups in a minute), until it is found, or LOOKUP_WINDOW seconds have
  passed, or the task's deadline comes. Not found: an error that says it may still appear.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Dict, Optional, Tuple

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Client, Clock, Rand, Sleep
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError, TRANSIENT_RET_CODES
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import may_have_happened

LOOKUP_FIRST = 0.5
LOOKUP_GROWTH = 1.5
LOOKUP_CAP = 5.0
# Long enough for a lagging listing (real ones settle within seconds), short enough that a
# create refused by a 5xx before it was made fails within a minute, not a whole wait_timeout.
LOOKUP_WINDOW = 60.0


def look_up(find: Callable[[], Any], window: float, clock: Clock = time.monotonic, sleep: Sleep = time.sleep,
            rand: Rand = random.random) -> Tuple[Any, int, float]:
    """``(found, lookups, seconds)``: call ``find()`` on the LOOKUP schedule until it returns
    something other than None or ``window`` seconds have passed (it is called at least once).

    Each wait has +-10% jitter, so that many tasks looking at once do not poll in step. The
    window is counted both on ``clock`` and as the sum of the waits (so a test's ``sleep``
    that does not sleep still ends it).
    """
    started = clock()
    delay, waited, lookups = LOOKUP_FIRST, 0.0, 0
    while True:
        found = find()
        lookups += 1
        elapsed = max(clock() - started, waited)
        if found is not None or elapsed >= window:
            return found, lookups, elapsed
        pause = min(delay * (0.9 + 0.2 * rand()), window - elapsed)
        sleep(pause)
        waited += pause
        delay = min(delay * LOOKUP_GROWTH, LOOKUP_CAP)


def create_once(client: Client, action: str, params: Dict[str, Any], region: str,
                answered_id: Callable[[Dict[str, Any]], Optional[str]], find: Callable[[], Optional[str]], what: str,
                deadline: float, clock: Clock = time.monotonic, sleep: Sleep = time.sleep,
                rand: Rand = random.random) -> Tuple[str, int]:
    """Send ``action`` and return ``(id, sends)``, never making two of ``what`` for one call.

    ``answered_id(answer)`` is the id a successful answer gives (None when it gives none);
    ``find()`` looks up what this create would have made (by its name, leaving out what was
    there before the send) and returns its id, or None. ``deadline`` is a ``clock()`` time
    after which no lookup goes on. ``what`` names the thing in messages
    ("backup nightly-1 of group uredis-1").
    """
    backoff = client.backoff
    sends, slept = 0, 0.0
    while True:
        sends += 1
        try:
            answer = client.call_once(action, params, region=region)
        except SigcalcloudError as error:
            if may_have_happened(error):
                lost = error
                break
            again = error.unsent or error.ret_code in TRANSIENT_RET_CODES or error.http_status == 429
            if not again or sends > backoff.max_retries:
                if again:
                    error.message += " (sent %d times, nothing was created)" % sends
                raise
            wait = backoff.delay(sends - 1, getattr(error, "retry_after", None))
            if slept + wait > backoff.budget:
                error.message += " (sent %d times, nothing was created; retry time budget of %ss spent)" % (
                    sends, backoff.budget)
                raise
            sleep(wait)
            slept += wait
            continue
        created = answered_id(answer)
        if created is not None:
            return created, sends
        lost = SigcalcloudError("the answer has no id", action=action, region=region)
        break
    # It may have been made: look, and never send it again.
    window = min(LOOKUP_WINDOW, max(0.0, deadline - clock()))
    try:
        found, lookups, looked = look_up(find, window, clock=clock, sleep=sleep, rand=rand)
    except SigcalcloudError as error:
        raise SigcalcloudError(
            "the answer to creating %s was lost (%s), and looking it up failed too (%s): it may exist; "
            "look before trying again" % (what, lost, error), action=action, region=region)
    if found is not None:
        return found, sends
    raise SigcalcloudError(
        "the answer to creating %s was lost (%s), and it was not listed in %d lookups over %ds; not sent again, "
        "so as never to make two: it may still appear, look before trying again" % (what, lost, lookups, looked),
        action=action, region=region, ret_code=lost.ret_code, http_status=lost.http_status,
        request_id=lost.request_id)
