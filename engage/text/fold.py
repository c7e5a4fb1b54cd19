"""Names as the front desk types them: "garcia" finds "García", "JOSE" finds "José".

A keyboard at a clinic desk often has no accents, and a chart from another system may have lost
them. Search compares folded names: each accented Latin letter becomes its base letter (one
character for one, so the database can do the same with `translate`), then lower case. The
database's `engage_fold(text)` is this same function: SQL on PostgreSQL (migration 0018, which
indexes it), this Python on SQLite; tests/integration prove both fold every letter alike.
Changing the table changes what the index holds: it needs a new migration that rebuilds it.
"""

from __future__ import annotations

import unicodedata

# Letters NFKD does not decompose into a base letter and a mark.
_STROKED = {"Ø": "o", "ø": "o", "Đ": "d", "đ": "d", "Ł": "l", "ł": "l", "Ħ": "h", "ħ": "h"}


def _table() -> tuple[str, str]:
    sources: list[str] = []
    bases: list[str] = []
    for point in range(0xC0, 0x250):  # Latin-1 Supplement, Latin Extended-A and -B
        letter = chr(point)
        decomposed = unicodedata.normalize("NFKD", letter)
        base = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        if len(base) == 1 and base.isascii() and base.isalpha() and base != letter:
            sources.append(letter)
            bases.append(base.lower())
    return "".join(sources) + "".join(_STROKED), "".join(bases) + "".join(_STROKED.values())


ACCENTED, BASES = _table()
_TRANSLATION = str.maketrans(ACCENTED, BASES)


def fold(text: str) -> str:
    """`text` with accents dropped from Latin letters, in lower case."""
    return text.translate(_TRANSLATION).lower()
