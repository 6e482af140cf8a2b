"""The columns of the shop's event and product files, declared once.

``EVENTS`` and ``PRODUCTS`` name each column once: its name in an import file (and in the
frames the importers return and the loaders take), the model field that stores it, whether
a file must fill it, and its kind (what the importers check it for). Everything else is
derived from them: the importers' column lists and text limits, the loaders' table columns,
the selectors' SQL, the products' update fields and the benchmark's CSV. A text limit is the
model field's ``max_length``, so the importers can never drift from the table.

To add a column: add the model field (and its migration), declare it here, and give
``catalog.importers.validation`` its check; the lists follow.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from django.db import models

from catalog.models import Event, Product


class Kind(StrEnum):
    UUID = "uuid"
    CHOICE = "choice"  # one of the field's choices
    TIMESTAMP = "timestamp"  # ISO 8601; a naive time means UTC
    TEXT = "text"  # free text up to the field's max_length; empty when missing
    POSITION = "position"  # 1-based place in a list
    MONEY = "money"  # a number >= 0 that fits the decimal field
    RATING = "rating"  # 0 to 5, empty when unrated
    JSON = "json"  # a JSON object
    FLAG = "flag"  # true or false


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    field: str = ""  # the model field, where it is not called ``name``
    in_file: bool = True  # False: the importer derives it from other columns

    @property
    def field_name(self) -> str:
        return self.field or self.name


@dataclass(frozen=True)
class Columns:
    """One model's columns in file order; ``key`` is the column a re-import matches on."""

    model: type[models.Model]
    key: str
    columns: tuple[Column, ...]

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def __getitem__(self, name: str) -> Column:
        return self._by_name[name]

    @cached_property
    def _by_name(self) -> dict[str, Column]:
        return {column.name: column for column in self.columns}

    def model_field(self, name: str) -> models.Field:
        field = self.model._meta.get_field(self[name].field_name)
        assert isinstance(field, models.Field)
        return field

    def db_column(self, name: str) -> str:
        return str(self.model_field(name).column)

    def max_length(self, name: str) -> int | None:
        return stored_field(self.model_field(name)).max_length

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @cached_property
    def file_names(self) -> tuple[str, ...]:
        """The columns an import file may have, in the order a written file has them."""
        return tuple(column.name for column in self.columns if column.in_file)

    @cached_property
    def required(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)

    @cached_property
    def text(self) -> tuple[str, ...]:
        """Free-text columns: stored as '' (never NULL) when empty."""
        return tuple(column.name for column in self.columns if column.kind == Kind.TEXT)

    @cached_property
    def limits(self) -> dict[str, int]:
        """The text columns that have a limit, and the limit."""
        limits = {name: self.max_length(name) for name in self.text}
        return {name: limit for name, limit in limits.items() if limit is not None}

    @cached_property
    def text_limits(self) -> dict[str, int]:
        """The limits of the text columns a file has."""
        return {name: limit for name, limit in self.limits.items() if self[name].in_file}

    @cached_property
    def db_columns(self) -> tuple[str, ...]:
        return tuple(self.db_column(name) for name in self.names)


def stored_field(field: models.Field) -> models.Field:
    """The field whose values a column holds: a foreign key's target, else the field itself."""
    return field.target_field if isinstance(field, models.ForeignKey) else field


EVENTS = Columns(
    model=Event,
    key="event_id",
    columns=(
        Column("event_id", Kind.UUID, required=True),
        Column("event_type", Kind.CHOICE, required=True),
        Column("timestamp", Kind.TIMESTAMP, required=True),
        Column("user_id", Kind.TEXT),
        Column("session_id", Kind.TEXT),
        Column("query", Kind.TEXT),
        Column("query_norm", Kind.TEXT, in_file=False),
        Column("product_id", Kind.TEXT, required=True, field="product"),
        Column("position", Kind.POSITION),
        Column("request_id", Kind.TEXT),
    ),
)

PRODUCTS = Columns(
    model=Product,
    key="external_id",
    columns=(
        Column("external_id", Kind.TEXT, required=True),
        Column("title", Kind.TEXT, required=True),
        Column("description", Kind.TEXT),
        Column("brand", Kind.TEXT),
        Column("category", Kind.TEXT),
        Column("price", Kind.MONEY, required=True),
        Column("rating", Kind.RATING),
        Column("attributes", Kind.JSON),
        Column("active", Kind.FLAG),
    ),
)
