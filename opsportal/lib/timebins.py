"""Time bucketing as ORM expressions: one rule per query, said once for PostgreSQL and for SQLite.

`EpochBin("taken_at", 300)` is the epoch second at which the five-minute bin of each row starts; bins start at whole
multiples of `step` seconds since BIN_ORIGIN (UTC), so a minute bin starts at :00 and a day bin at UTC midnight.
`EpochBin("hour")` (no step) is the moment itself in epoch seconds. Readers group by it and get numbers, not
datetimes: building a datetime per row only to turn it back into a number cost more than the query.
`JsonItemInt("buckets", 3)` is the integer at index 3 of a JSON array column (NULL where the array is shorter).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connections
from django.db.models import BigIntegerField, Func, IntegerField, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

# date_bin's origin: bins start at whole minutes (and five minutes, hours, days) of UTC. It is a whole number of
# days after the epoch, so counting bins from the epoch (SQLite) gives the same bins as date_bin from it.
BIN_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def bin_start(moment: datetime, step: int) -> int:
    """Epoch seconds of the `step`-second bin `moment` falls in (what EpochBin computes in the database), for
    merging rows that are already in Python."""
    return int(moment.timestamp() // step * step)


class EpochBin(Func):
    """Epoch seconds (an integer) of the start of the `step`-second bin a datetime column falls in."""

    output_field = BigIntegerField()

    def __init__(self, expression, step: int | None = None, **extra) -> None:
        if step is not None and (step <= 0 or 86400 % step and step % 86400):
            raise ValueError(f"a bin is a divisor or a multiple of a day, not {step} s")
        self.step = step
        super().__init__(expression, **extra)

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        if self.step is None:
            return f"floor(extract(epoch FROM {sql}))::bigint", params  # whole seconds, as SQLite and int()
        return (f"extract(epoch FROM date_bin(%s, {sql}, %s))::bigint",
                (timedelta(seconds=self.step), *params, BIN_ORIGIN))

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django stores an aware datetime as UTC text ("2026-12-04 10:04:59.999999"). SQLite reads its fraction to
        # the millisecond, rounding: 10:05:00, the next bin. So the fraction is cut off first (the first 19
        # characters are the whole second), and integer division floors the second to the bin.
        sql, params = compiler.compile(self.source_expressions[0])
        seconds = f"CAST(strftime('%%s', substr({sql}, 1, 19)) AS INTEGER)"
        if self.step is None:
            return seconds, params
        return f"({seconds} / %s * %s)", (*params, self.step, self.step)


class JsonItemInt(Cast):
    """The integer at `index` of a JSON array column; NULL where a row's array has no such index (SUM skips it)."""

    def __init__(self, field: str, index: int) -> None:
        super().__init__(KeyTextTransform(str(index), field), IntegerField())





def rows(queryset: QuerySet, *columns: str) -> list[tuple]:
    """queryset.values_list(*columns) as the database returns the rows (Django selects them in that order): one
    query, built once by the ORM, whose values need no conversion here (epoch seconds, counts and floats). The
    dashboards read up to 30,000 points in one request: Django's per-row converters and iterator cost as much as
    the queries themselves."""
    sql, params = queryset.values_list(*columns).query.get_compiler(queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
