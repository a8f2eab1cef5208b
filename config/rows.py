"""Model rows read and written in plain SQL, for the statements that run once
per job or per API request (the worker's claim and outcome, token
authentication, a job's read and insert): there the ORM's query building cost
several times the round trip it prepares (on the bench machine a primary-key
read took ~1 ms of CPU through the ORM, 0.3 ms through a cursor). Values go through the
fields' own adaptation (`get_db_prep_save`) and conversion (the backend's
and the field's converters, as the ORM applies them), so one SQL text
serves PostgreSQL and SQLite. On PostgreSQL they go through `prepared_cursor()`,
which prepares them once per connection. Everything else keeps using the
ORM."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)

Converter = Callable[[Any, Any, Any], Any]


def _db() -> Any:
    """This thread's database wrapper itself: `connection` is a proxy that
    looks it up again on every attribute read (a thread-local lookup), and
    the helpers below are called dozens of times per job."""
    return connections[DEFAULT_DB_ALIAS]


def _engine() -> str:
    """What the caches below are keyed on (the SQL they hold depends on the
    backend): a plain read of the settings, where `connection.vendor` costs
    the thread-local lookup."""
    return str(connections.settings[DEFAULT_DB_ALIAS]["ENGINE"])


def prepared_cursor() -> CursorWrapper:
    """A cursor for one statement whose text repeats, once per job or
    request: on PostgreSQL prepared once per connection and then only bound
    and run (config/postgresql/base.py), elsewhere Django's. Its text must
    not vary with the values (they go in placeholders, never in the SQL)."""
    db = _db()
    prepared: Callable[[], CursorWrapper] | None = getattr(db, "prepared_cursor", None)
    return prepared() if prepared else db.cursor()


def quote(name: str) -> str:
    return _quote(name, _engine())


@cache
def _quote(name: str, engine: str) -> str:
    return connection.ops.quote_name(name)


def table(model: type[Model]) -> str:
    return quote(model._meta.db_table)


def field(model: type[Model], name: str) -> Field[Any, Any]:
    found = model._meta.get_field(name)
    assert isinstance(found, Field)  # noqa: S101  (concrete fields only)
    return found


def column(model: type[Model], name: str) -> str:
    """The quoted column of the field `name`."""
    return _column(model, name, _engine())


@cache
def _column(model: type[Model], name: str, engine: str) -> str:
    return _quoted(field(model, name))


def _quoted(f: Any) -> str:
    return quote(f.column)


def prep(model: type[Model], name: str, value: Any) -> Any:
    """`value` as the database takes it for the field `name`."""
    return field(model, name).get_db_prep_save(value, _db())


@cache
def _select_list(model: type[Model], engine: str, alias: str) -> str:
    prefix = f"{quote(alias)}." if alias else ""
    return ", ".join(prefix + _quoted(f) for f in model._meta.concrete_fields)


def columns(model: type[Model], alias: str = "") -> str:
    """Every concrete column of `model` (qualified by the table alias, if
    given), in the order `instance` reads them."""
    return _select_list(model, _engine(), alias)


def width(model: type[Model]) -> int:
    """How many values of a row `columns(model)` selects."""
    return len(model._meta.concrete_fields)


def columns_of_one(model: type[Model], key: str, value_sql: str) -> str:
    """Every concrete column of the one row of `model` whose field `key`
    equals `value_sql` (an expression of the outer statement), each as a
    scalar subquery, in the order `instance` reads them: a row read in the
    same statement as another, where a join cannot go (an UPDATE's
    RETURNING, say). NULLs where there is no such row."""
    return _columns_of_one(model, key, value_sql, _engine())


@cache
def _columns_of_one(model: type[Model], key: str, value_sql: str, engine: str) -> str:
    where = f"{table(model)}.{column(model, key)} = {value_sql}"
    return ", ".join(
        f"(SELECT {_quoted(f)} FROM {table(model)} WHERE {where})"  # noqa: S608  (names from the model)
        for f in model._meta.concrete_fields
    )


@cache
def _converters(model: type[Model], engine: str) -> tuple[tuple[int, Any, tuple[Converter, ...]], ...]:
    """(index, column, converters) of the columns that have any: most have
    none, and a row is read once per request or more."""
    out = []
    for index, f in enumerate(model._meta.concrete_fields):
        column = f.get_col(model._meta.db_table)
        converters = tuple(connection.ops.get_db_converters(column) + f.get_db_converters(connection))
        if converters:
            out.append((index, column, converters))
    return tuple(out)


def instance(model: type[M], row: Sequence[Any]) -> M:
    """The model instance for a row of `columns(model)`, as the ORM builds it."""
    return instances(model, [row])[0]


def instances(model: type[M], found: Iterable[Sequence[Any]]) -> list[M]:
    """The model instances for rows of `columns(model)`, as the ORM builds them."""
    db = _db()
    converters, expected = _converters(model, _engine()), width(model)
    out = []
    for row in found:
        if len(row) != expected:
            raise ValueError(f"{len(row)} values for the {expected} columns of {model.__name__}")
        values = list(row)
        for index, column, convert_all in converters:
            value = values[index]
            for convert in convert_all:
                value = convert(value, column, db)
            values[index] = value
        out.append(model.from_db(db.alias, [], values))
    return out


@cache
def _insert(model: type[Model], engine: str) -> tuple[str, tuple[Field[Any, Any], ...], bool]:
    """The INSERT statement of `model`, the fields whose values it takes,
    and whether the database assigns the primary key (RETURNING it)."""
    meta = model._meta
    assigned = bool(meta.pk.db_returning)
    fields = tuple(f for f in meta.local_concrete_fields if not (f.primary_key and assigned))
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608  (names from the model)
        table(model),
        ", ".join(_quoted(f) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    if assigned:
        sql += f" RETURNING {_quoted(meta.pk)}"
    return sql, fields, assigned


def insert(obj: M) -> M:
    """INSERT `obj` (a new instance); a primary key the database assigns
    (an auto field) is set from the row."""
    db = _db()
    sql, fields, assigned = _insert(type(obj), _engine())
    params = [f.get_db_prep_save(f.pre_save(obj, add=True), db) for f in fields]
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        if assigned:
            (obj.pk,) = cursor.fetchone()
    obj._state.adding = False
    obj._state.db = db.alias
    return obj


@cache
def _insert_from(
    model: type[Model], name: str | None, engine: str
) -> tuple[str, str, tuple[Field[Any, Any], ...], tuple[Field[Any, Any], ...]]:
    """An INSERT of `model` from a SELECT: its head (up to the placeholders
    of the SELECT list, every field but `name`, which comes last in the
    column list), its RETURNING clause (the primary key if the database
    assigns it, then `name`; empty if neither), the fields whose values the
    placeholders take, and the fields RETURNING gives back."""
    _, fields, assigned = _insert(model, engine)
    source = (field(model, name),) if name else ()
    fields = tuple(f for f in fields if f not in source)
    head = "INSERT INTO {} ({}) SELECT {}".format(
        table(model),
        ", ".join(_quoted(f) for f in (*fields, *source)),
        ", ".join(["%s"] * len(fields)),
    ) + (", " if name else " ")
    returned = ((model._meta.pk,) if assigned else ()) + source
    returning = " RETURNING " + ", ".join(_quoted(f) for f in returned) if returned else ""
    return head, returning, fields, returned


def _inserted(obj: Model, cursor: CursorWrapper, returned: Sequence[Field[Any, Any]]) -> bool:
    """Whether the INSERT just run inserted `obj`'s row; sets on it what the
    row returned."""
    if not returned:
        return cursor.rowcount == 1
    row = cursor.fetchone()
    if row is None:
        return False
    for f, value in zip(returned, row, strict=True):
        setattr(obj, f.attname, value)
    return True


def insert_from(
    obj: M,
    select: str,
    params: Sequence[Any],
    *,
    name: str | None = None,
    with_: str = "",
    with_params: Sequence[Any] = (),
    before: str = "",
    before_params: Sequence[Any] = (),
) -> bool:
    """INSERT `obj` (a new instance) through a SELECT of its values, so that
    one statement reads what the INSERT depends on: `select` is what follows
    the values in that SELECT (FROM, WHERE, a locking clause), with `params`
    for its placeholders. With `name`, `select` starts with the expression
    giving that field's value ("expr FROM ..."). `with_`: a WITH clause the
    statement starts with, whose names `select` may read, with `with_params`
    for its placeholders. `before`: a statement run ahead of the INSERT in
    the same round trip, with `before_params`; PostgreSQL only. Outside an
    atomic block the two are one transaction, each with a snapshot of its
    own: prepared and sent together in a pipeline (config/postgresql), or,
    with prepared statements off, in one string of two statements, which
    only Django's client-side binding cursor runs. False, and nothing
    inserted, when the SELECT finds no row; else the field (and a primary
    key the database assigns) is set from the row."""
    db = _db()
    head, returning, fields, returned = _insert_from(type(obj), name, _engine())
    values = [f.get_db_prep_save(f.pre_save(obj, add=True), db) for f in fields]
    statement = (f"{with_} " if with_ else "") + head + select + returning
    args = [*with_params, *values, *params]
    if not before:
        with prepared_cursor() as cursor:
            cursor.execute(statement, args)
            inserted = _inserted(obj, cursor, returned)
    elif getattr(db, "prepares_statements", False):
        with prepared_cursor() as cursor:
            with db.prepared_pipeline():
                cursor.execute(before, before_params)
                cursor.execute(statement, args)
            # The INSERT's result is the cursor's last.
            inserted = _inserted(obj, cursor, returned)
    else:
        with db.cursor() as cursor:
            cursor.execute(f"{before}; {statement}", [*before_params, *args])
            # The INSERT's result is the last one.
            while cursor.nextset():
                pass
            inserted = _inserted(obj, cursor, returned)
    if not inserted:
        return False
    obj._state.adding = False
    obj._state.db = db.alias
    return True
