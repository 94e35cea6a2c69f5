"""Every object the project owns documents itself: `\\d+` and `\\df+` in psql are the docs."""

from __future__ import annotations

import psycopg

OWNED_SCHEMAS = ("public", "senate")

MISSING_COMMENTS_SQL = """
WITH owned_rel AS (
    SELECT c.oid, n.nspname, c.relname, c.relkind
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY (%(schemas)s)
      AND c.relkind IN ('r', 'v', 'm', 'p')
      AND c.relname NOT LIKE '\\_yoyo%%' AND c.relname <> 'yoyo_lock'
)
SELECT 'relation' AS kind, format('%%I.%%I', nspname, relname) AS name
FROM owned_rel
WHERE obj_description(oid, 'pg_class') IS NULL
UNION ALL
SELECT 'column', format('%%I.%%I.%%I', r.nspname, r.relname, a.attname)
FROM owned_rel AS r
JOIN pg_attribute AS a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE col_description(r.oid, a.attnum) IS NULL
UNION ALL
SELECT 'function', p.oid::regprocedure::text
FROM pg_proc AS p
JOIN pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname = ANY (%(schemas)s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                  WHERE d.objid = p.oid AND d.deptype = 'e')
  AND obj_description(p.oid, 'pg_proc') IS NULL
UNION ALL
SELECT 'trigger', format('%%I on %%s', t.tgname, t.tgrelid::regclass)
FROM pg_trigger AS t
JOIN pg_class AS c ON c.oid = t.tgrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ANY (%(schemas)s) AND NOT t.tgisinternal
  AND obj_description(t.oid, 'pg_trigger') IS NULL
ORDER BY 1, 2
"""


def test_every_table_column_view_function_and_trigger_has_a_comment(
    db: psycopg.Connection,
) -> None:
    rows = db.execute(MISSING_COMMENTS_SQL, {"schemas": list(OWNED_SCHEMAS)}).fetchall()
    missing = [f"{kind} {name}" for kind, name in rows]
    assert not missing, "objects without COMMENT ON:\n" + "\n".join(missing)


def test_every_catalogued_error_code_is_in_the_project_class(db: psycopg.Connection) -> None:
    rows = db.execute(
        "SELECT sqlstate, error_name, meaning, hint FROM senate.error_codes ORDER BY sqlstate"
    ).fetchall()
    assert len(rows) >= 5
    for sqlstate, name, meaning, hint in rows:
        assert sqlstate.startswith("S"), sqlstate
        assert name and meaning and hint, sqlstate
