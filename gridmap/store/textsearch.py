"""Board text search by index: SQLite FTS5 (trigram tokenizer), PostgreSQL pg_trgm (migration 0012).

``description_has(text)`` is the condition "the description holds ``text``" (what
``description LIKE '%text%'`` asks), compiled per backend so it is answered by an index:

- SQLite: ``incidents_fts``, a contentless FTS5 table with the trigram tokenizer, kept by
  triggers in the same transaction as every insert, update and delete of ``incidents``. Each
  description is indexed with two U+0001 after it, so every substring of 1 or 2 characters
  is the start of some trigram: 3+ characters are a phrase query; 1-2 characters (most Chinese
  search words: 井盖, 路灯) take the indexed trigrams that start with them from
  ``incidents_fts_vocab`` and match any of those. The tokenizer folds case.
- PostgreSQL: a GIN ``gin_trgm_ops`` index on the description's UTF-8 bytes in hex
  (``gridmap_text_hex``): pg_trgm keeps only letters and digits of the database's locale, and
  under the C locale it drops every Chinese character, while hex is always ASCII; one
  character is 6 hex digits, so even a 1-character search has trigrams. The index finds the
  candidates and ``description LIKE`` rechecks them (a hex match off a byte boundary is dropped).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

from . import schema

SENTINEL = "\x01\x01"  # after every indexed description (SQLite): see the module docstring
NEVER = '"\x01\x01\x01"'  # a phrase no indexed text holds (no trigram of the 1-2 character prefix)

SQLITE_DDL = (
    "CREATE VIRTUAL TABLE incidents_fts USING fts5(description, content='', tokenize='trigram')",
    "CREATE VIRTUAL TABLE incidents_fts_vocab USING fts5vocab(incidents_fts, 'row')",
    "CREATE TRIGGER incidents_fts_ai AFTER INSERT ON incidents BEGIN "
    "INSERT INTO incidents_fts(rowid, description) VALUES (new.id, new.description || char(1, 1)); END",
    "CREATE TRIGGER incidents_fts_ad AFTER DELETE ON incidents BEGIN "
    "INSERT INTO incidents_fts(incidents_fts, rowid, description) "
    "VALUES ('delete', old.id, old.description || char(1, 1)); END",
    "CREATE TRIGGER incidents_fts_au AFTER UPDATE OF description ON incidents BEGIN "
    "INSERT INTO incidents_fts(incidents_fts, rowid, description) "
    "VALUES ('delete', old.id, old.description || char(1, 1)); "
    "INSERT INTO incidents_fts(rowid, description) VALUES (new.id, new.description || char(1, 1)); END",
    "INSERT INTO incidents_fts(rowid, description) SELECT id, description || char(1, 1) FROM incidents",
)
SQLITE_DROP = ("DROP TRIGGER IF EXISTS incidents_fts_au", "DROP TRIGGER IF EXISTS incidents_fts_ad",
               "DROP TRIGGER IF EXISTS incidents_fts_ai", "DROP TABLE IF EXISTS incidents_fts_vocab",
               "DROP TABLE IF EXISTS incidents_fts")
PG_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE OR REPLACE FUNCTION gridmap_text_hex(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    "AS $$ SELECT encode(convert_to($1, 'UTF8'), 'hex') $$",
    "CREATE INDEX ix_incidents_text_trgm ON incidents USING gin (gridmap_text_hex(description) gin_trgm_ops)",
)
PG_DROP = ("DROP INDEX IF EXISTS ix_incidents_text_trgm", "DROP FUNCTION IF EXISTS gridmap_text_hex(text)")


class description_has(ColumnElement):
    """incidents.description contains ``text`` (a non-empty string), by index on either backend."""

    type = sa.Boolean()
    inherit_cache = False

    def __init__(self, text: str):
        self.text = text


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@compiles(description_has)
def _generic(element, compiler, **kw):
    return compiler.process(schema.incidents.c.description.like(_like(element.text), escape="\\"), **kw)


@compiles(description_has, "sqlite")
def _sqlite(element, compiler, **kw):
    text = element.text
    rowids = "SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH {}"
    if len(text) >= 3:
        match = compiler.process(sa.literal('"' + text.replace('"', '""') + '"'), **kw)
    else:  # the indexed trigrams that start with these 1-2 characters (the vocabulary is case-folded)
        low = text.lower()
        terms = ("(SELECT coalesce(group_concat('\"' || replace(term, '\"', '\"\"') || '\"', ' OR '), {never}) "
                 "FROM incidents_fts_vocab WHERE term >= {lo} AND term < {hi})")
        match = terms.format(never=compiler.process(sa.literal(NEVER), **kw),
                             lo=compiler.process(sa.literal(low), **kw),
                             hi=compiler.process(sa.literal(low + "\U0010ffff"), **kw))
    ident = compiler.process(schema.incidents.c.id, **kw)
    return f"{ident} IN ({rowids.format(match)})"


@compiles(description_has, "postgresql")
def _postgresql(element, compiler, **kw):
    d = schema.incidents.c.description
    cond = sa.and_(sa.func.gridmap_text_hex(d).like("%" + element.text.encode("utf-8").hex() + "%"),
                   d.like(_like(element.text), escape="\\"))
    return compiler.process(cond, **kw)
