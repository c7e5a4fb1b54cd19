"""Inbound SMS keywords: a whole text that is a keyword, however it is typed, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage.consent.keywords import (
    CONFIRM_WORDS,
    HELP_WORDS,
    START_WORDS,
    STOP_WORDS,
    Keyword,
    classify,
    normalize,
)

ALL_WORDS = [
    *((w, Keyword.STOP) for w in sorted(STOP_WORDS)),
    *((w, Keyword.START) for w in sorted(START_WORDS)),
    *((w, Keyword.HELP) for w in sorted(HELP_WORDS)),
    *((w, Keyword.CONFIRM) for w in sorted(CONFIRM_WORDS)),
]
SPACES = st.text(alphabet=" \t\n\u00a0", max_size=3)
PUNCTUATION = st.text(alphabet=".!?¡¿,;", max_size=2)


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", Keyword.STOP),
        ("Stop.", Keyword.STOP),
        ("stopall", Keyword.STOP),
        ("UNSUBSCRIBE", Keyword.STOP),
        ("Cancel", Keyword.STOP),
        ("end", Keyword.STOP),
        ("Quit!", Keyword.STOP),
        ("REVOKE", Keyword.STOP),
        ("OPTOUT", Keyword.STOP),
        ("opt-out", Keyword.STOP),
        ("NO MÁS", Keyword.STOP),
        ("no mas", Keyword.STOP),
        ("No  más!", Keyword.STOP),
        ("ALTO", Keyword.STOP),
        ("parar", Keyword.STOP),
        ("START", Keyword.START),
        ("unstop", Keyword.START),
        ("Yes", Keyword.START),
        ("HELP", Keyword.HELP),
        ("info?", Keyword.HELP),
        ("Ayuda", Keyword.HELP),
        ("C", Keyword.CONFIRM),
        ("c.", Keyword.CONFIRM),
        ("Confirm", Keyword.CONFIRM),
        ("CONFIRMAR", Keyword.CONFIRM),
        ("please stop texting me", Keyword.OTHER),
        ("Can I bring my sister?", Keyword.OTHER),
        ("", Keyword.OTHER),
        ("stopp", Keyword.OTHER),
        ("no", Keyword.OTHER),
    ],
)
def test_each_text_is_read_as_its_keyword(body: str, keyword: Keyword) -> None:
    assert classify(body) is keyword


@given(st.sampled_from(ALL_WORDS), st.data(), SPACES, SPACES, PUNCTUATION)
def test_a_keyword_survives_any_case_spacing_and_trailing_punctuation(
    pair: tuple[str, Keyword], data: st.DataObject, before: str, after: str, punct: str
) -> None:
    word, keyword = pair
    cased = "".join(
        ch.upper() if flip else ch.lower()
        for ch, flip in zip(
            word,
            data.draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word))),
            strict=True,
        )
    )
    assert classify(before + cased + punct + after) is keyword


@given(st.sampled_from(sorted(STOP_WORDS)), st.sampled_from(["please ", "don't ", "I said "]))
def test_a_stop_word_inside_a_sentence_is_not_a_keyword(word: str, prefix: str) -> None:
    assert classify(prefix + word + " the reminders") is Keyword.OTHER


@given(st.text(max_size=40))
def test_classify_never_fails_and_is_stable_under_normalisation(body: str) -> None:
    assert classify(body) is classify(normalize(body))


@given(st.sampled_from(["á", "é", "í", "ó", "ú"]))
def test_accents_are_forgiven(accented: str) -> None:
    assert normalize(f"x{accented}x") == "x" + "aeiou"["áéíóú".index(accented)] + "x"
