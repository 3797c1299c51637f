-- oncelink PostgreSQL schema, version 3: the store's sequence.
--
-- Every Insert draws one number from {schema}.seq and gives it to all its
-- records (tokens.seq). A watermark taken "now" (WatermarkNow) draws one too
-- and keeps it in guards.cutoff_seq: it refuses every record whose seq is
-- below it, whatever its issue time, so that revoking everything does not
-- depend on the clocks of the machines that minted the links. Sequences are
-- not transactional: an Insert that drew its number before the watermark
-- but commits after it is covered too, which is the safe side. CACHE 1
-- keeps the numbers in the order they are drawn across sessions. Records
-- from before this migration have seq 0: every such watermark covers them.
CREATE SEQUENCE {schema}.seq AS bigint CACHE 1;
ALTER TABLE {schema}.tokens ADD COLUMN seq bigint NOT NULL DEFAULT 0;
ALTER TABLE {schema}.guards ADD COLUMN cutoff_seq bigint;
