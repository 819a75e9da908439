-- Deterministic TPC-H-like demo_master.orders: the warehouse stand-in for tests, bench and demo.
--
--   psql -v ON_ERROR_STOP=1 -v rows=1000000 -v hot_rows=10000 -v days=2405 -f local/seed_demo.sql
--
-- Row layout (no random(): every run of the same variables gives the same table):
--   * rows 1 .. :hot_rows all fall on the "hot day" 1998-07-21, so that day has exactly
--     :hot_rows rows (the bench's ~10,000-row day; the DESIGN's example date);
--   * the other rows go round-robin over :days consecutive dates from 1992-01-01, skipping the
--     hot day, so every other day has floor((rows - hot_rows) / days) rows and the first
--     (rows - hot_rows) % days of them one more. The default 2405 days + the hot day give the
--     2,406 dates of TPC-H (1992-01-01 .. 1998-08-02).
-- Some comments carry commas, double quotes and non-ASCII text, and every 13th is NULL, so text
-- formats (CSV, JSON) get exercised on the awkward cases.

\if :{?rows}
\else
\set rows 1000000
\endif
\if :{?hot_rows}
\else
\set hot_rows 10000
\endif
\if :{?days}
\else
\set days 2405
\endif

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS demo_master CASCADE;
CREATE SCHEMA demo_master;

CREATE TABLE demo_master.orders (
    o_orderkey      bigint        NOT NULL,
    o_custkey       bigint        NOT NULL,
    o_orderstatus   char(1)       NOT NULL,
    o_totalprice    numeric(15,2) NOT NULL,
    o_orderdate     date          NOT NULL,
    o_orderpriority varchar(15)   NOT NULL,
    o_clerk         varchar(15)   NOT NULL,
    o_shippriority  integer       NOT NULL,
    o_comment       varchar(79)
);

INSERT INTO demo_master.orders
SELECT n                                                         AS o_orderkey,
       1 + (n * 7919) % 149999                                   AS o_custkey,
       CASE WHEN day < DATE '1995-06-17' THEN 'F'
            WHEN n % 19 = 0 THEN 'P'
            ELSE 'O' END                                         AS o_orderstatus,
       (85700 + (n * 104729) % 50000000) / 100.0                 AS o_totalprice,
       day                                                       AS o_orderdate,
       (ARRAY['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'])[1 + (n / 7) % 5]
                                                                 AS o_orderpriority,
       'Clerk#' || lpad((1 + (n * 37) % 1000)::text, 9, '0')     AS o_clerk,
       0                                                         AS o_shippriority,
       CASE WHEN n % 13 = 0 THEN NULL
            WHEN n % 7 = 0 THEN 'pending, "quick" deposits #' || n
            WHEN n % 11 = 0 THEN 'café déjà vu — ' || n
            ELSE 'regular accounts sleep ' || (n % 97) END       AS o_comment
FROM (
    SELECT n,
           CASE WHEN n <= :hot_rows THEN DATE '1998-07-21'
                ELSE DATE '1992-01-01' + (o + (o >= 2393)::int)::int  -- 2393 = 1998-07-21
           END AS day
    FROM (SELECT n, (n - :hot_rows - 1) % :days AS o
          FROM generate_series(1::bigint, :rows) AS n) AS g
) AS s;

-- Redshift prunes a day with its sort key's zone maps; an index is PostgreSQL's equivalent.
CREATE INDEX orders_orderdate_idx ON demo_master.orders (o_orderdate);
ANALYZE demo_master.orders;
