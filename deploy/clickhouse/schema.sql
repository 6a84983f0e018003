-- helloscope's jsonl records in ClickHouse: one row a flow, the keys of the jsonl line as
-- columns of the same names, so that `INSERT ... FORMAT JSONEachRow` takes the lines as they
-- are (see ingest.sh). Keys this table does not know (added by newer sensors) are skipped at
-- insertion; `null` objects (`stack`, `alert`) and the absent `policy` become empty tuples.
CREATE DATABASE IF NOT EXISTS helloscope;

CREATE TABLE IF NOT EXISTS helloscope.flows
(
    ts                  DateTime64(6, 'UTC'),
    source              LowCardinality(String),
    sensor              LowCardinality(String),
    -- IPv4 addresses are kept IPv4-mapped (`::ffff:10.0.0.1`); see `ip_text` in report.sql.
    client_ip           IPv6,
    client_port         UInt16,
    server_ip           IPv6,
    server_port         UInt16,
    sni                 LowCardinality(Nullable(String)),
    alpn_offered        Array(LowCardinality(String)),
    alpn                LowCardinality(Nullable(String)),
    versions_offered    Array(LowCardinality(String)),
    version_offered_max LowCardinality(Nullable(String)),
    version             LowCardinality(Nullable(String)),
    cipher              LowCardinality(Nullable(String)),
    hello_retry         Bool,
    fallback_scsv       Bool,
    ja3                 LowCardinality(Nullable(String)),
    ja3s                LowCardinality(Nullable(String)),
    ja4                 LowCardinality(Nullable(String)),
    ja4s                LowCardinality(Nullable(String)),
    -- `confidence` is empty when the record had no stack (no client hello).
    stack Tuple(
        family      LowCardinality(Nullable(String)),
        application LowCardinality(Nullable(String)),
        confidence  LowCardinality(String),
        tls12       LowCardinality(String)),
    outcome             LowCardinality(String),
    alert Tuple(
        level       LowCardinality(String),
        description LowCardinality(String),
        `from`      LowCardinality(String)),
    -- `profile` is empty when no policy covered the flow.
    policy Tuple(
        profile     LowCardinality(String),
        verdict     LowCardinality(String),
        findings    Array(Tuple(
            code        LowCardinality(String),
            message     String,
            remediation LowCardinality(Nullable(String))))),
    ja3_string          Nullable(String) CODEC(ZSTD(3)),
    ja4_r               Nullable(String) CODEC(ZSTD(3)),
    sslv2_hello         Bool,
    reset_by            LowCardinality(Nullable(String)),
    `end`               LowCardinality(String),
    flags               Array(LowCardinality(String)),
    packets             UInt64
)
ENGINE = MergeTree
-- A partition a month: old months are dropped whole by the TTL.
PARTITION BY toYYYYMM(ts)
-- Reports group by sensor and client and read a time range.
ORDER BY (sensor, toDate(ts), client_ip, ts)
TTL toDateTime(ts) + INTERVAL 13 MONTH DELETE;
