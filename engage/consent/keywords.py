"""What an inbound SMS asks for: stop, start again, help, confirm an appointment, or none of those.

Pure. Carriers and Twilio treat a text as a keyword only when the whole text is the keyword, so
"stop." and "  Stop " are STOP, but "please don't stop" is not. Case, accents, spacing and
surrounding punctuation are forgiven, since patients type on phones: "No más", "NO MAS" and
"nomas" all stop, as Spanish-speaking patients commonly write them.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Keyword(StrEnum):
    STOP = "stop"  # close SMS consent at once; confirm once
    START = "start"  # reopen SMS consent
    HELP = "help"  # answer with the clinic's name, phone and how to stop
    CONFIRM = "confirm"  # the patient confirms their next appointment
    OTHER = "other"  # anything else: kept for staff to read


STOP_WORDS = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "revoke",
        "optout",
        "opt out",
        "no mas",
        "alto",
        "parar",
    }
)
START_WORDS = frozenset({"start", "unstop", "yes"})
HELP_WORDS = frozenset({"help", "info", "ayuda"})
CONFIRM_WORDS = frozenset({"c", "confirm", "confirmar"})

# Compared without spaces, so that "no mas", "nomas" and "opt out" match alike.
_TABLE = tuple(
    (frozenset(word.replace(" ", "") for word in vocabulary), keyword)
    for vocabulary, keyword in (
        (STOP_WORDS, Keyword.STOP),
        (START_WORDS, Keyword.START),
        (HELP_WORDS, Keyword.HELP),
        (CONFIRM_WORDS, Keyword.CONFIRM),
    )
)
_NOT_WORD = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Lower case, accents removed, punctuation and runs of spaces folded into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", plain).strip()


def classify(body: str) -> Keyword:
    """The keyword the whole of `body` is, or OTHER."""
    squeezed = normalize(body).replace(" ", "")
    for vocabulary, keyword in _TABLE:
        if squeezed in vocabulary:
            return keyword
    return Keyword.OTHER
