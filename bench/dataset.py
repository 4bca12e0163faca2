"""A realistic database for benchmarks: five tables with indexes, text/jsonb/numeric/bytea, ≈5:1 with zstd -3.

Shared by the benchmarks that need "a business database of N MB" (bench/backup.py; others may import it):

    from bench.dataset import grow_to, dump_compression_ratio
    grow_to("postgres://postgres@127.0.0.1:5432/scratch", 256)

Rows are drawn from PostgreSQL's random() after setseed(), so every run builds the same data. Words come from a
small vocabulary (like real invoices and notes), identifiers and hashes are random hex, and attachments carry a
random head and a repetitive body, which together compress about 5:1 — not the 16:1 of repeated md5 strings.
"""

from __future__ import annotations

import subprocess
import threading

import psycopg

WORDS = (  # noqa: SIM905 - one readable sentence of words
    "invoice order customer payment shipped pending refund delivery warehouse stock quantity price discount "
    "account balance credit debit ledger report monthly annual contract renewal service support ticket priority "
    "urgent review approved rejected draft final total tax net gross supplier partner region north south east west"
).split()

SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_customers (
    id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, region text NOT NULL,
    notes text, created timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS bench_customers_email ON bench_customers (email);
CREATE TABLE IF NOT EXISTS bench_orders (
    id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL, lines jsonb NOT NULL,
    total numeric(14, 2) NOT NULL, created timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS bench_orders_customer ON bench_orders (customer_id, created);
CREATE TABLE IF NOT EXISTS bench_invoices (
    id bigint PRIMARY KEY, order_id bigint NOT NULL, number text NOT NULL, net numeric(14, 2) NOT NULL,
    tax numeric(14, 2) NOT NULL, due date NOT NULL, paid boolean NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS bench_invoices_number ON bench_invoices (number);
CREATE TABLE IF NOT EXISTS bench_events (
    id bigint PRIMARY KEY, kind text NOT NULL, payload jsonb NOT NULL, message text NOT NULL,
    at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS bench_events_kind_at ON bench_events (kind, at);
CREATE TABLE IF NOT EXISTS bench_attachments (
    id bigint PRIMARY KEY, order_id bigint NOT NULL, filename text NOT NULL, sha256 text NOT NULL,
    content bytea NOT NULL);
CREATE INDEX IF NOT EXISTS bench_attachments_order ON bench_attachments (order_id);
"""

# {word}: a random word; {sentence}: 6-30 random words (g * 0 makes the subquery run per row); {a}/{b}: the ids.
_WORD = "(%(words)s)[1 + floor(random() * %(n)s)::int]"
_SENTENCE = (
    "array_to_string(ARRAY(SELECT %(word)s FROM generate_series(1, 6 + (g * 0 + floor(random() * 24))::int)), ' ')"
)

BATCH_SQL = """
INSERT INTO bench_customers
SELECT g, initcap({word}) || ' ' || initcap({word}) || ' ' || g, 'user' || g || '@' || {word} || '.example',
       {word}, {sentence}, timestamptz '2020-01-01' + random() * interval '1500 days'
FROM generate_series({a}, {b}) AS g;
INSERT INTO bench_orders
SELECT g, 1 + floor(random() * {b})::bigint, {word},
       jsonb_build_object('sku', 'SKU-' || floor(random() * 5000)::int, 'qty', 1 + floor(random() * 9)::int,
                          'price', round((random() * 500)::numeric, 2), 'note', {sentence}, 'tags',
                          jsonb_build_array({word}, {word})),
       round((random() * 5000)::numeric, 2), timestamptz '2020-01-01' + random() * interval '1500 days'
FROM generate_series({a}, {b}) AS g;
INSERT INTO bench_invoices
SELECT g, g, 'INV-' || lpad(g::text, 10, '0'), round((random() * 5000)::numeric, 2),
       round((random() * 900)::numeric, 2), date '2020-01-01' + floor(random() * 1500)::int, random() < 0.8
FROM generate_series({a}, {b}) AS g;
INSERT INTO bench_events
SELECT g, {word}, jsonb_build_object('request', md5(random()::text), 'host', 'web-' || floor(random() * 8)::int,
                                     'ms', floor(random() * 900)::int),
       {sentence} || ' ' || {sentence}, timestamptz '2020-01-01' + random() * interval '1500 days'
FROM generate_series({a}, {b}) AS g;
INSERT INTO bench_attachments
SELECT g, g, {word} || '-' || g || '.pdf', encode(sha256(g::text::bytea), 'hex'),
       decode(md5(random()::text) || md5(random()::text), 'hex')
         || convert_to(repeat({sentence} || E'\\n', 2 + floor(random() * 4)::int), 'UTF8')
FROM generate_series({a}, {b}) AS g;
"""


def _batch_sql(first: int, last: int) -> str:
    words = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
    word = _WORD % {"words": words, "n": len(WORDS)}
    sentence = _SENTENCE % {"word": word}
    return BATCH_SQL.format(word=word, sentence=sentence, a=first, b=last)


def database_size(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def grow_to(url: str, size_mb: int, *, batch: int = 5_000) -> int:
    """Add rows until the database takes `size_mb` on disk (indexes included); returns the size in bytes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        start = conn.execute("SELECT coalesce(max(id), 0) FROM bench_customers").fetchone()[0] + 1
        conn.execute("SELECT setseed(%s)", [(start % 1000) / 1000])
        while database_size(url) < size_mb * 1024 * 1024:
            conn.execute(_batch_sql(start, start + batch - 1))
            start += batch
        conn.execute("VACUUM ANALYZE")
    return database_size(url)


def dump_compression_ratio(pg_env: dict[str, str], *, level: int = 3) -> tuple[int, int]:
    """Bytes of `pg_dump -Fc -Z0` and of the same through `zstd -<level>`, to check and print the ≈5:1."""
    dump = subprocess.Popen(["pg_dump", "-Fc", "-Z0"], env=pg_env, stdout=subprocess.PIPE)
    raw = compressed = 0
    zstd = subprocess.Popen(["zstd", f"-{level}", "-q", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def count() -> None:
        nonlocal compressed
        while chunk := zstd.stdout.read(1 << 20):
            compressed += len(chunk)

    counter = threading.Thread(target=count)
    counter.start()
    while chunk := dump.stdout.read(1 << 20):
        raw += len(chunk)
        zstd.stdin.write(chunk)
    zstd.stdin.close()
    counter.join()
    if dump.wait() or zstd.wait():
        raise RuntimeError("pg_dump | zstd failed while measuring the compression ratio")
    return raw, compressed
