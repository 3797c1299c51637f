-- oncelink PostgreSQL schema, version 2: windowed counters
-- (store.Counters). {schema} is replaced by the quoted schema name.
--
-- One row per key, window length (microseconds) and bucket (the number of
-- the fixed window since the Unix epoch). Hit deletes a key's older buckets
-- as it starts a new one; Purge deletes buckets that ended before its
-- cut-off.
CREATE TABLE {schema}.hits (
    k      text COLLATE "C" NOT NULL,
    w      bigint           NOT NULL,
    bucket bigint           NOT NULL,
    n      bigint           NOT NULL,
    PRIMARY KEY (k, w, bucket)
);
