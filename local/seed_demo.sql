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

-- Two small tables for the batch workflow (make demo DEMO_ARGS=--batch, tests/e2e/test_batch.py),
-- fixed sizes whatever :rows is: 8,000 line items by ship day and 1,500 customers by the day they
-- registered, each with a fifth on the hot day 1998-07-21 and the rest spread over 1992-1998.
CREATE TABLE demo_master.lineitem (
    l_orderkey      bigint        NOT NULL,
    l_linenumber    integer       NOT NULL,
    l_quantity      numeric(15,2) NOT NULL,
    l_extendedprice numeric(15,2) NOT NULL,
    l_shipdate      date          NOT NULL,
    l_comment       varchar(44)
);

INSERT INTO demo_master.lineitem
SELECT n / 4 + 1                                                  AS l_orderkey,
       n % 4 + 1                                                  AS l_linenumber,
       1 + n % 50                                                 AS l_quantity,
       (90100 + (n * 7703) % 9000000) / 100.0                     AS l_extendedprice,
       CASE WHEN n % 5 = 0 THEN DATE '1998-07-21'
            ELSE DATE '1992-01-01' + ((n * 31) % 2405)::int END          AS l_shipdate,
       CASE WHEN n % 9 = 0 THEN NULL ELSE 'carefully ' || (n % 89) END AS l_comment
FROM generate_series(0::bigint, 7999) AS n;

CREATE TABLE demo_master.customer (
    c_custkey    bigint        NOT NULL,
    c_name       varchar(25)   NOT NULL,
    c_nationkey  integer       NOT NULL,
    c_acctbal    numeric(15,2) NOT NULL,
    c_mktsegment char(10)      NOT NULL,
    c_since      date          NOT NULL
);

INSERT INTO demo_master.customer
SELECT n                                                          AS c_custkey,
       'Customer#' || lpad(n::text, 9, '0')                       AS c_name,
       n % 25                                                     AS c_nationkey,
       (n * 4099) % 1000000 / 100.0 - 999.99                      AS c_acctbal,
       (ARRAY['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY'])[1 + n % 5]
                                                                  AS c_mktsegment,
       CASE WHEN n % 5 = 0 THEN DATE '1998-07-21'
            ELSE DATE '1992-01-01' + ((n * 17) % 2405)::int END          AS c_since
FROM generate_series(1::bigint, 1500) AS n;

ANALYZE demo_master.lineitem;
ANALYZE demo_master.customer;
