"""The importer's memory of earlier rows lives in a scratch database, batch by batch, and names
exactly the repeats and conflicts that remembering every row in memory did."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engage.patients.filekeys import FileKeys
from engage.patients.matching import name_key
from engage.patients.rows import PatientRow

CONFLICT = (
    "{key}: same as line {line}, of another name: a conflict for staff "
    "(give each row an external_ref to add a family member)"
)


def row(ref: str | None, name: tuple[str, str], phone: str | None, email: str | None) -> PatientRow:
    return PatientRow.model_construct(
        external_ref=ref,
        first_name=name[0],
        last_name=name[1],
        phone=phone,
        email=email,
        timezone="UTC",
    )


def remembered_in_memory(rows: list[tuple[int, PatientRow]]) -> list[str | None]:
    """The rule as the importer first kept it: every earlier row's keys in dicts."""
    first: dict[tuple[object, ...], int] = {}
    owner: dict[tuple[str, str], tuple[int, tuple[str, str]]] = {}
    found: list[str | None] = []
    for line, r in rows:
        name = name_key(r.first_name, r.last_name)
        contacts = [(k, v) for k in ("phone", "email") if (v := getattr(r, k))]
        keys = [("external_ref", ("ref", r.external_ref))] if r.external_ref else []
        keys += [(k, (k, v, name)) for k, v in contacts]
        hit = next((k for k in keys if k[1] in first), None)
        problem = f"{hit[0]}: same as line {first[hit[1]]}" if hit else None
        if problem is None and r.external_ref is None:
            other = next(
                ((k, v) for k, v in contacts if owner.get((k, v), (0, name))[1] != name), None
            )
            if other:
                problem = CONFLICT.format(key=other[0], line=owner[other][0])
        if problem is None:
            first.update((key, line) for _, key in keys)
            for contact in contacts:
                owner.setdefault(contact, (line, name))
        found.append(problem)
    return found


ROWS = st.lists(
    st.builds(
        row,
        st.sampled_from([None, "R1", "R2"]),
        st.sampled_from([("Ana", "Ruiz"), ("ANA ", "ruiz"), ("Maria", "Lopez"), ("Eve", "Fox")]),
        st.sampled_from([None, "+14155550001", "+14155550002"]),
        st.sampled_from([None, "a@example.org", "b@example.org"]),
    ),
    max_size=30,
)


@given(rows=ROWS, batch=st.integers(1, 7))
def test_batches_name_what_remembering_every_row_named(rows: list[PatientRow], batch: int) -> None:
    numbered = [(line, r) for line, r in enumerate(rows, start=2)]
    found: list[str | None] = []
    with FileKeys() as keys:
        for start in range(0, len(numbered), batch):
            found += keys.check(numbered[start : start + batch])
    assert found == remembered_in_memory(numbered)


def test_earlier_rows_are_kept_in_the_scratch_database_not_in_the_process() -> None:
    with FileKeys() as keys:
        for start in range(0, 30, 10):
            rows = [
                (
                    line,
                    row(f"R{line}", ("Pat", f"No{line}"), f"+1415555{line:04d}", f"p{line}@x.org"),
                )
                for line in range(start + 2, start + 12)
            ]
            assert keys.check(rows) == [None] * 10
        # A ref and each contact's owner per row; nothing of a checked batch stays in memory.
        assert keys.stored == 3 * 30
        assert vars(keys).keys() == {"_db"}
        again = (40, row("R5", ("Pat", "No5"), None, None))
        assert keys.check([again]) == ["external_ref: same as line 5"]
