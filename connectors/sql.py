"""SQL databases through SQLAlchemy: SQLite files, DuckDB files and PostgreSQL servers."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from synthkit.connectors._base import (
    DEFAULT_BATCH_SIZE,
    Connector,
    DatabaseError,
    FormatError,
    MissingSourceError,
    redact,
)
from synthkit.errors import MissingDependencyError, ParameterError
from synthkit.schema import RecordError, Relationship
from synthkit.schema._record_checks import parents_first

__all__ = ["SqlConnector"]

_IF_EXISTS = ("fail", "replace", "append")
_INSERT_ROWS = 10_000


class SqlConnector(Connector):
    """Tables and queries of any SQLAlchemy database; tested on SQLite, DuckDB and PostgreSQL.

    Identifiers are quoted by SQLAlchemy and values are bound parameters, never
    formatted into SQL text. A write runs in one transaction: on any error the
    database is left as it was. Passwords never appear in messages.

    Example:
        >>> import tempfile, pathlib, pyarrow as pa
        >>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'people.db'}"
        >>> sql = SqlConnector()
        >>> sql.write(pa.table({"name": ["Ada", "Alan"], "age": [36, 41]}), url, table="people")
        >>> sql.read(url, query="select name from people where age > :age",
        ...          params={"age": 40}).to_pydict()
        {'name': ['Alan']}
    """

    name = "sql"
    schemes = ("sqlite", "postgresql", "postgres", "duckdb")

    def read(
        self,
        uri: str,
        *,
        table: str | None = None,
        query: str | None = None,
        params: Mapping[str, Any] | None = None,
        columns: list[str] | None = None,
        schema: str | None = None,
    ) -> pa.Table:
        """Read a table, or the result of a query with bound parameters.

        Args:
            uri: SQLAlchemy URL (``sqlite:///path.db``, ``duckdb:///path.duckdb``,
                ``postgresql://user:password@host/db``).
            table: Table to read (quoted by SQLAlchemy; any name is safe).
            query: SQL text with ``:name`` placeholders, as an alternative to ``table``.
            params: Values bound to the placeholders of ``query``.
            columns: Read only these columns of ``table``.
            schema: Database schema holding ``table`` (PostgreSQL).
        """
        batches = list(
            self.iter_batches(
                uri, table=table, query=query, params=params, columns=columns, schema=schema
            )
        )
        return pa.Table.from_batches(batches)

    def iter_batches(
        self,
        uri: str,
        *,
        batch_size: int | None = None,
        table: str | None = None,
        query: str | None = None,
        params: Mapping[str, Any] | None = None,
        columns: list[str] | None = None,
        schema: str | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a table or query result in batches of ``batch_size`` rows."""
        if (table is None) == (query is None):
            raise ParameterError("Pass exactly one of table= or query= to read from a database.")
        if params is not None and query is None:
            raise ParameterError("params= binds values into query=; pass query= too.")
        database = _Database(uri, must_exist=True)
        with database.errors(table), database.engine.connect() as connection:
            if table is not None:
                source = database.reflect(connection, table, schema)
                if columns is not None:
                    missing = [c for c in columns if c not in source.columns]
                    if missing:
                        raise ParameterError(
                            f"columns={missing} are not in table {table!r}; "
                            f"its columns are {list(source.columns.keys())}."
                        )
                selected = [source.columns[c] for c in columns] if columns else list(source.columns)
                statement: Any = sa.select(*selected)
                types = {c.name: _arrow_type(c.type) for c in selected}
            else:
                statement, types = sa.text(query), {}
            result = connection.execution_options(yield_per=batch_size or DEFAULT_BATCH_SIZE)
            result = result.execute(statement, dict(params or {}))
            names = list(result.keys())
            schema_out: pa.Schema | None = None
            for rows in result.partitions():
                batch = _batch(rows, names, types)
                schema_out = schema_out or batch.schema
                yield batch if batch.schema == schema_out else batch.cast(schema_out)
            if schema_out is None:  # no rows: one empty batch still carries the columns
                yield _batch([], names, types)

    def write(
        self,
        data: pa.Table,
        uri: str,
        *,
        table: str | None = None,
        if_exists: str = "fail",
        schema: str | None = None,
    ) -> None:
        """Write ``data`` to ``table`` in one transaction.

        Args:
            data: The rows.
            uri: SQLAlchemy URL; SQLite and DuckDB files are created when missing.
            table: Target table name (quoted by SQLAlchemy; any name is safe).
            if_exists: ``"fail"`` (default), ``"replace"`` (drop and recreate) or
                ``"append"`` (insert into the existing table).
            schema: Database schema holding ``table`` (PostgreSQL).
        """
        if not table:
            raise ParameterError("Pass table=... to name the database table to write.")
        self.write_related({table: data}, [], {}, uri, if_exists=if_exists, schema=schema)

    def read_related(
        self, uri: str, *, tables: Sequence[str] | str = "all", schema: str | None = None
    ) -> tuple[dict[str, pa.Table], list[Relationship], dict[str, str]]:
        """Read several tables, the foreign keys that relate them and their primary keys.

        Args:
            uri: SQLAlchemy URL.
            tables: Table names, or ``"all"`` for every table of the schema.
            schema: Database schema (PostgreSQL).

        Returns:
            Tables by name, the relationships taken from the database's foreign keys
            (among the tables read) and each table's single-column primary key.

        Raises:
            RecordError: A composite (several-column) foreign key among the tables
                read, which relationships do not take.
        """
        database = _Database(uri, must_exist=True)
        with database.errors(None), database.engine.connect() as connection:
            inspector = sa.inspect(connection)
            known = inspector.get_table_names(schema=schema)
            names = list(known) if tables == "all" else list(tables)
            missing = [name for name in names if name not in known]
            if missing:
                raise MissingSourceError(
                    f"Table(s) {missing} do not exist in {database.display}; tables: {known}."
                )
            relationships = []
            if database.url.get_backend_name() == "duckdb" and len(names) > 1:
                raise DatabaseError(
                    "Reading related tables from DuckDB needs foreign-key reflection, which "
                    "duckdb-engine does not support with this DuckDB version; read each table "
                    "with table=... and build a RecordDataset with its relationships."
                )
            primary_keys = {}
            for name in names:
                declared = inspector.get_pk_constraint(name, schema=schema)
                if len(declared.get("constrained_columns") or []) == 1:
                    primary_keys[name] = declared["constrained_columns"][0]
                for key in inspector.get_foreign_keys(name, schema=schema):
                    if key["referred_table"] in names and len(key["constrained_columns"]) > 1:
                        raise RecordError(
                            f"Table {name!r} of {database.display} has a composite foreign key "
                            f"{key['constrained_columns']} -> {key['referred_table']}"
                            f"{key['referred_columns']}; relationships link one column. Read "
                            f"the tables without it (tables=[...]) and relate them by one key "
                            "column built in both (see synthkit.Relationship)."
                        )
                    if key["referred_table"] in names:
                        relationships.append(
                            Relationship(
                                parent=key["referred_table"],
                                child=name,
                                parent_key=key["referred_columns"][0],
                                child_key=key["constrained_columns"][0],
                            )
                        )
        out = {name: self.read(uri, table=name, schema=schema) for name in names}
        return out, relationships, primary_keys

    def write_related(
        self,
        tables: Mapping[str, pa.Table],
        relationships: Sequence[Relationship],
        primary_keys: Mapping[str, str],
        uri: str,
        *,
        if_exists: str = "fail",
        schema: str | None = None,
    ) -> None:
        """Write several tables with primary and foreign keys, parents first, in one transaction."""
        if if_exists not in _IF_EXISTS:
            raise ParameterError(f"if_exists={if_exists!r}: use one of {', '.join(_IF_EXISTS)}.")
        order = parents_first(list(tables), relationships)
        database = _Database(uri, must_exist=False)
        metadata = sa.MetaData(schema=schema)
        definitions = {
            name: _definition(name, tables[name], metadata, primary_keys.get(name), relationships)
            for name in order
        }
        named = order[0] if len(order) == 1 else None
        with database.errors(named), database.engine.begin() as connection:
            inspector = sa.inspect(connection)
            existing = {n for n in order if inspector.has_table(n, schema=schema)}
            if existing and if_exists == "fail":
                raise DatabaseError(
                    f"Table(s) {sorted(existing)} already exist in {database.display}; pass "
                    "if_exists='replace' to overwrite or if_exists='append' to add rows."
                )
            for name in reversed(order):
                if name in existing and if_exists == "replace":
                    sa.Table(name, sa.MetaData(schema=schema)).drop(connection)
            for name in order:
                target = definitions[name]
                if name in existing and if_exists == "append":
                    target = database.reflect(connection, name, schema)
                    extra = [c for c in tables[name].column_names if c not in target.columns]
                    if extra:
                        raise DatabaseError(
                            f"Cannot append to {name!r}: column(s) {extra} are not in the table."
                        )
                else:
                    target.create(connection)
                _insert(connection, target, tables[name])


class _Database:
    """An engine for one URL, with the URL's password kept out of every message."""

    def __init__(self, uri: str, *, must_exist: bool):
        try:
            url = sa.engine.make_url(uri)
        except sa.exc.ArgumentError:
            raise ParameterError(f"{redact(uri)} is not a database URL.") from None
        url = _with_driver(url)
        self.url = url
        self.secret = url.password
        self.display = url.render_as_string(hide_password=True)
        file = url.database if url.get_backend_name() in ("sqlite", "duckdb") else None
        on_disk = file is not None and file != ":memory:" and file != ""
        if must_exist and on_disk and not Path(file).exists():
            raise MissingSourceError(
                f"No database file at {file} (from {self.display}); check the path."
            )
        # A database file this write creates is removed again if the write fails.
        self.new_file = Path(file) if on_disk and not Path(file).exists() else None
        try:
            self.engine: Engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        except (ImportError, sa.exc.NoSuchModuleError) as error:
            extra = _DRIVER_EXTRAS.get(url.get_backend_name(), "postgres")
            raise MissingDependencyError(
                f"Cannot open {self.display}: its driver is not installed ({error}); "
                f'install it with pip install "synthkit[{extra}]".'
            ) from None
        if url.get_backend_name() == "sqlite":
            _transactional_ddl(self.engine)

    def reflect(self, connection: Connection, table: str, schema: str | None) -> sa.Table:
        try:
            if self.url.get_backend_name() == "duckdb":
                return _duckdb_table(connection, table, schema)
            return sa.Table(table, sa.MetaData(schema=schema), autoload_with=connection)
        except sa.exc.NoSuchTableError:
            known = sa.inspect(connection).get_table_names(schema=schema)
            raise MissingSourceError(
                f"Table {table!r} does not exist in {self.display}; tables: {known}."
            ) from None

    @contextlib.contextmanager
    def errors(self, table: str | None) -> Iterator[None]:
        failed = True
        try:
            yield
            failed = False
        except sa.exc.OperationalError as error:
            text = redact(str(error.orig or error).strip(), self.secret)
            raise DatabaseError(f"Database {self.display} failed: {text}") from None
        except sa.exc.DBAPIError as error:
            text = redact(str(error.orig or error).strip(), self.secret)
            where = f" on table {table!r}" if table else ""
            raise DatabaseError(f"Statement{where} failed in {self.display}: {text}") from None
        except sa.exc.SQLAlchemyError as error:
            raise DatabaseError(
                f"Database {self.display}: {redact(str(error), self.secret)}"
            ) from None
        except OverflowError as error:
            # Drivers reject some values before the database sees them (SQLite: big ints).
            text = redact(str(error), self.secret)
            where = f" to table {table!r}" if table else ""
            raise DatabaseError(
                f"The driver refused a value written{where} in {self.display}: {text}; "
                "nothing was written."
            ) from None
        finally:
            self.engine.dispose()
            if failed and self.new_file is not None:
                for leftover in (self.new_file, Path(f"{self.new_file}.wal")):
                    leftover.unlink(missing_ok=True)


_DUCKDB_TYPES = (
    ("TIMESTAMP WITH TIME ZONE", sa.DateTime(timezone=True)),
    ("TIMESTAMP", sa.DateTime()),
    ("DATE", sa.Date()),
    ("BOOLEAN", sa.Boolean()),
    ("INT", sa.BigInteger()),
    ("DOUBLE", sa.Double()),
    ("FLOAT", sa.Double()),
    ("REAL", sa.Double()),
    ("DECIMAL", sa.Numeric()),
    ("VARCHAR", sa.Text()),
    ("BLOB", sa.LargeBinary()),
)


def _duckdb_table(connection: Connection, table: str, schema: str | None) -> sa.Table:
    # duckdb-engine's column reflection queries pg_catalog tables DuckDB 2 lacks;
    # information_schema holds the same facts.
    columns = sa.table(
        "columns",
        sa.column("table_name"),
        sa.column("table_schema"),
        sa.column("column_name"),
        sa.column("data_type"),
        sa.column("ordinal_position"),
        schema="information_schema",
    )
    query = (
        sa.select(columns.c.column_name, columns.c.data_type)
        .where(columns.c.table_name == table, columns.c.table_schema == (schema or "main"))
        .order_by(columns.c.ordinal_position)
    )
    rows = connection.execute(query).all()
    if not rows:
        raise sa.exc.NoSuchTableError(table)
    return sa.Table(
        table,
        sa.MetaData(schema=schema),
        *[sa.Column(name, _duckdb_type(kind)) for name, kind in rows],
    )


def _duckdb_type(name: str) -> Any:
    upper = name.upper()
    return next((kind for prefix, kind in _DUCKDB_TYPES if prefix in upper), sa.types.NullType())


def _transactional_ddl(engine: Engine) -> None:
    # Python's sqlite3 commits before DDL on its own, so a DROP TABLE could not be
    # rolled back; take over transaction control (SQLAlchemy's documented recipe).
    @sa.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


# The synthkit extra that installs each database's SQLAlchemy driver.
_DRIVER_EXTRAS = {"postgresql": "postgres", "duckdb": "duckdb"}


def _with_driver(url: URL) -> URL:
    # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; synthkit's extra ships psycopg2.
    backend = url.drivername
    if backend == "postgres":
        backend = "postgresql"
        url = url.set(drivername=backend)
    no_psycopg3 = importlib.util.find_spec("psycopg") is None
    if backend == "postgresql" and no_psycopg3 and importlib.util.find_spec("psycopg2"):
        url = url.set(drivername="postgresql+psycopg2")
    return url


def _definition(
    name: str,
    data: pa.Table,
    metadata: sa.MetaData,
    primary_key: str | None,
    relationships: Sequence[Relationship],
) -> sa.Table:
    # Keys are supplied by the data: no SERIAL/identity column generating its own.
    columns = [sa.Column(f.name, _sql_type(f, name), autoincrement=False) for f in data.schema]
    constraints: list[Any] = []
    if primary_key is not None and primary_key in data.column_names:
        constraints.append(sa.PrimaryKeyConstraint(primary_key))
    for link in relationships:
        if link.child == name:
            parent = f"{metadata.schema}.{link.parent}" if metadata.schema else link.parent
            constraints.append(
                sa.ForeignKeyConstraint([link.child_key], [f"{parent}.{link.parent_key}"])
            )
    return sa.Table(name, metadata, *columns, *constraints)


def _sql_type(field: pa.Field, table: str) -> Any:
    kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
    if pa.types.is_boolean(kind):
        return sa.Boolean()
    if pa.types.is_integer(kind):
        return sa.BigInteger()
    if pa.types.is_floating(kind):
        return sa.Double()
    if pa.types.is_decimal(kind):
        return sa.Numeric(kind.precision, kind.scale)
    if pa.types.is_timestamp(kind):
        return sa.DateTime(timezone=kind.tz is not None)
    if pa.types.is_date(kind):
        return sa.Date()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return sa.Text()
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return sa.LargeBinary()
    raise FormatError(
        f"Column {field.name!r} of {table!r} has type {field.type}, which a SQL table cannot "
        "hold; flatten it first (RecordDataset turns nested records into related tables)."
    )


def _arrow_type(sql_type: Any) -> pa.DataType | None:
    checks = (
        (sa.Boolean, pa.bool_()),
        (sa.Integer, pa.int64()),
        (sa.Float, pa.float64()),
        (sa.DateTime, pa.timestamp("ns")),
        (sa.Date, pa.date32()),
        (sa.String, pa.string()),
    )
    for kind, arrow in checks:
        if isinstance(sql_type, kind):
            if kind is sa.DateTime and getattr(sql_type, "timezone", False):
                return pa.timestamp("ns", tz="UTC")
            return arrow
    return None


def _batch(rows: Sequence[Any], names: list[str], types: Mapping[str, Any]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    arrays = []
    for name, values in zip(names, columns, strict=True):
        array = pa.array(values, from_pandas=True)
        wanted = types.get(name)
        if pa.types.is_timestamp(array.type):
            wanted = wanted or pa.timestamp("ns", tz="UTC" if array.type.tz else None)
            if array.type.tz and wanted.tz is None:
                wanted = pa.timestamp("ns", tz="UTC")
        if wanted is not None and array.type != wanted:
            array = array.cast(wanted)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _insert(connection: Connection, target: sa.Table, data: pa.Table) -> None:
    plain = pa.Table.from_arrays(
        [
            c.cast(f.type.value_type) if pa.types.is_dictionary(f.type) else c
            for f, c in zip(data.schema, data.columns, strict=True)
        ],
        names=data.column_names,
    )
    for batch in plain.to_batches(max_chunksize=_INSERT_ROWS):
        # Bound parameters in batches; the driver sends them, never as SQL text.
        connection.execute(target.insert(), batch.to_pylist())
