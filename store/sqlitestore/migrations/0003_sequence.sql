-- 0003: the store's sequence.
--
-- Every Insert draws the next number of the sequence and gives it to its
-- records (tokens.seq). A watermark taken "now" (WatermarkNow) draws one too
-- and keeps it in marks.before_seq: it refuses every record whose seq is
-- below it, whatever its issue time, so that revoking everything does not
-- depend on the clocks of the machines that minted the links. Records from
-- before this migration have seq 0: every such watermark covers them.
-- marks.before_at is 0 for a member that has only a sequence watermark.

ALTER TABLE tokens ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE marks ADD COLUMN before_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sequence (
	id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	last INTEGER NOT NULL
) STRICT;
INSERT INTO sequence (id, last) VALUES (1, 0);
