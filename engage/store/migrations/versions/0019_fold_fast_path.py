"""engage_fold() without its cost on names that have nothing to fold: a name of printable ASCII
(nearly every one) is only lower-cased; the others go through the accent table as before. Same
results, so migration 0018's indexes stay valid. Measured at a million patients: the 253-letter
translate() cost ~20 us a name, evaluated four times for each matching row (the recheck of both
names, then the sort by both), so a three-letter prefix took 65-95 ms in PostgreSQL and one letter
seconds; the fast path is ~1 us. Not STRICT: PostgreSQL inlines a SQL function's CASE body into
the query only when the function is not declared strict (a NULL still folds to NULL).
"""

from alembic import op

from engage.store.migrations.fold_table import ACCENTED, BASES, FOLD_0018

revision, down_revision = "0019", "0018"

FAST = f"""
CREATE OR REPLACE FUNCTION engage_fold(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN $1 ~ '^[ -~]*$' THEN lower($1)
                  ELSE lower(translate($1, '{ACCENTED}', '{BASES}')) END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FAST)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FOLD_0018)
