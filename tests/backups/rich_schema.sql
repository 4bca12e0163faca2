-- A database that exercises pg_dump: types, a second schema, advanced sequences, a view, a function,
-- and tables no Django model knows about.
CREATE SCHEMA bk_extra;
CREATE TABLE bk_extra.documents (
    id bigserial PRIMARY KEY,
    doc jsonb NOT NULL,
    blob bytea,
    tags text[],
    scores integer[],
    amount numeric(30, 10),
    happened_at timestamptz,
    title text
);
INSERT INTO bk_extra.documents (doc, blob, tags, scores, amount, happened_at, title)
SELECT
    jsonb_build_object('n', g, 'nested', jsonb_build_object('list', jsonb_build_array(g, g * 2, 'x')), 'uni', 'ü€😀'),
    decode(lpad(to_hex(g), 8, '0') || '00ff7f80', 'hex'),
    ARRAY['tag' || g, 'ﾃｽﾄ', NULL],
    ARRAY[g, -g, 0],
    (g * 12345.6789012345)::numeric(30, 10),
    timestamptz '2024-02-29 23:59:59.123456+09' + (g || ' hours')::interval,
    'Zürich – 東京 – Ελληνικά #' || g
FROM generate_series(1, 500) AS g;
-- A large value (TOASTed) and raw bytes 0..255.
INSERT INTO bk_extra.documents (doc, blob, title)
VALUES ('{"big": true}', (SELECT string_agg(set_byte('\x00'::bytea, 0, b), ''::bytea) FROM generate_series(0, 255) b),
        repeat('large value ', 400000));
SELECT setval('bk_extra.documents_id_seq', 100000);
CREATE SEQUENCE bk_extra.invoice_numbers START 1000 INCREMENT 7;
SELECT nextval('bk_extra.invoice_numbers') FROM generate_series(1, 5);
CREATE VIEW bk_extra.expensive AS SELECT id, amount FROM bk_extra.documents WHERE amount > 1000000;
CREATE FUNCTION bk_extra.double_it(n integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT n * 2';
CREATE TABLE public.bk_legacy_notes (code text PRIMARY KEY, body text, created timestamptz DEFAULT now());
INSERT INTO public.bk_legacy_notes (code, body) VALUES ('a', 'first'), ('b', E'tab\tand\nnewline'), ('c', '');
