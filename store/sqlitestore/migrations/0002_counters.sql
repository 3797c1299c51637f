-- 0002: windowed counters (store.Counters).
--
-- One row per key, window length (microseconds) and bucket (the number of
-- the fixed window since the Unix epoch); Hit deletes a key's older buckets
-- as it starts a new one, and Purge deletes buckets that ended before its
-- cut-off.

CREATE TABLE hits (
	k      TEXT    NOT NULL,
	w      INTEGER NOT NULL,
	bucket INTEGER NOT NULL,
	n      INTEGER NOT NULL,
	PRIMARY KEY (k, w, bucket)
) STRICT, WITHOUT ROWID;
