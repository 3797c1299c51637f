-- oncelink MariaDB schema, version 3: the store's sequence. {seq} is
-- replaced by the quoted name of the store's sequence, the others as in
-- 0001_init.sql. Every statement is idempotent: a migration interrupted
-- half-way is applied again, whole, by the next Migrate.
--
-- Every Insert draws one number from {seq} and gives it to all its records
-- (tokens.seq). A watermark taken "now" (WatermarkNow) draws one too and
-- keeps it in guards.cutoff_seq: it refuses every record of its scope whose
-- seq is below it, whatever its issue time, so that revoking everything
-- does not depend on the clocks of the machines that minted the links.
--
-- Why a SEQUENCE: NEXTVAL hands out each number once, in increasing order
-- across every connection of the server, and is not transactional: a
-- number is never given again, not even when the transaction that drew it
-- rolls back (the Insert then leaves a gap). NOCACHE writes every draw to
-- the sequence's table, so the order and the numbers do not depend on a
-- cache (FLUSH TABLES, a crash). An Insert draws its number before it
-- commits, so an Insert that committed before a watermark drew its number
-- has a lower one, and one that begins after the watermark returned draws
-- a higher one; an Insert that drew before the watermark and commits after
-- it is covered too, the safe side. Records from before this migration
-- have seq 0: every such watermark covers them.
--
-- The procedures return the record with its seq, one column more than
-- version 2's: once this migration is applied, instances of an earlier
-- version fail their consumes (ErrUnavailable).
CREATE SEQUENCE IF NOT EXISTS {seq} START WITH 1 MINVALUE 1 INCREMENT BY 1 NOCACHE NOCYCLE;

ALTER TABLE {tokens} ADD COLUMN IF NOT EXISTS seq BIGINT NOT NULL DEFAULT 0;

-- A member's or the global watermark by sequence number; a batch row never
-- has one.
ALTER TABLE {guards} ADD COLUMN IF NOT EXISTS cutoff_seq BIGINT NULL;

DROP PROCEDURE IF EXISTS {check};

DELIMITER $$

-- check returns one row, the outcome of every check on a record and the
-- record, or no row when there is none. The outcome is in contract order:
-- 2 secret (the secret hash, or the token's member, purpose or batch
-- differ from the record's), 3 revoked (one by one, or by a watermark: an
-- issue time before its time, or a seq below its number), 4 used, 5
-- expired, 6 frozen, 7 stale; a record that passes every check answers
-- p_pass: 0 for Peek, 8 for consume whose UPDATE changed nothing (changed
-- since the UPDATE: try again), 9 for a mismatched request. A NULL p_pass
-- asks for the record whatever it is, with outcome 0 (fail). p_status is
-- the record's status before the caller counted a failure on it, NULL to
-- judge the record's own: a count changes only failures and, at the cap,
-- the status. The CASE below and the WHERE clause of consume must agree.
CREATE PROCEDURE {check}(IN p_id BINARY(16), IN p_hash BINARY(32), IN p_at DATETIME(6),
    IN p_state BINARY(32), IN p_member VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    IN p_purpose VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    IN p_batch VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    IN p_status TINYINT, IN p_pass TINYINT)
    READS SQL DATA SQL SECURITY INVOKER
SELECT CASE
        WHEN p_pass IS NULL THEN 0
        WHEN NOT (t.secret_hash <=> p_hash AND t.member <=> p_member AND t.purpose <=> p_purpose
            AND t.batch <=> p_batch) THEN 2
        WHEN COALESCE(p_status, t.status) = 3 OR EXISTS (SELECT 1 FROM {guards} g
            WHERE ((g.scope = 1 AND g.k = '') OR (g.scope = 3 AND g.k = t.member))
            AND (g.cutoff > t.issued_at OR g.cutoff_seq > t.seq)) THEN 3
        WHEN COALESCE(p_status, t.status) = 2 THEN 4
        WHEN t.expires_at <= p_at THEN 5
        WHEN EXISTS (SELECT 1 FROM {guards} g
            WHERE ((g.scope = 1 AND g.k = '') OR (g.scope = 2 AND g.k = t.batch) OR (g.scope = 3 AND g.k = t.member))
            AND g.held) THEN 6
        WHEN t.state IS NOT NULL AND NOT (t.state <=> p_state) THEN 7
        ELSE p_pass END AS outcome,
    t.id, t.member, t.purpose, t.batch, t.recipient, t.secret_hash, t.state, t.issued_at, t.expires_at,
    t.status, t.failures, t.consumed_at, t.revoked_at, t.c_identity, t.c_ip, t.c_user_agent, t.c_session, t.seq
FROM {tokens} t WHERE t.id = p_id$$

DELIMITER ;

DROP PROCEDURE IF EXISTS {consume};

DELIMITER $$

-- consume presents a record, in one transaction, and returns check's row,
-- as in version 2; the UPDATE now also refuses a record whose seq is below
-- a watermark's number. p_confirmation is 0 (unconfirmed), 1 (confirmed)
-- or 2 (mismatched), as store.Confirmation; p_consume is FALSE for a Peek
-- of a confirmed or mismatched request, which goes through the same steps
-- but the UPDATE.
--
-- The UPDATE marks the record consumed if it passes every check. It takes
-- the record's row lock and, under the lock, reads the newest committed
-- version of the row and of the guards that cover it, so of any number of
-- concurrent callers exactly one changes the row. A mismatched request
-- looks for status 0, which no record has: its UPDATE reads and locks the
-- row as a confirmed one's does, and changes nothing.
--
-- When the UPDATE changed nothing, an unconfirmed request reads the
-- outcome with check, while the row lock and the guard locks the UPDATE
-- took are still held, so that it is the reason the UPDATE failed. A
-- confirmed or mismatched request locks the row (the UPDATE did not under
-- READ COMMITTED) with its status, if the secret and claims match, then
-- adds 1 (mismatched) or 0 (confirmed) to its failures and 1 to presented,
-- the same write either way, revoking an issued record whose failures
-- reach p_max (p_max > 0) as fail does; check then judges the record on
-- its status before the count and returns it after. Any error rolls the
-- transaction back.
CREATE PROCEDURE {consume}(IN p_id BINARY(16), IN p_hash BINARY(32), IN p_at DATETIME(6),
    IN p_state BINARY(32), IN p_member VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    IN p_purpose VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    IN p_batch VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    IN p_confirmation TINYINT, IN p_max INT, IN p_consume BOOLEAN,
    IN p_identity VARCHAR(320) CHARACTER SET utf8mb4, IN p_ip VARCHAR(64) CHARACTER SET utf8mb4,
    IN p_user_agent VARCHAR(512) CHARACTER SET utf8mb4, IN p_session VARCHAR(256) CHARACTER SET utf8mb4)
    MODIFIES SQL DATA SQL SECURITY INVOKER
BEGIN
    DECLARE v_issued TINYINT DEFAULT IF(p_confirmation = 2, 0, 1);
    DECLARE v_add INT DEFAULT IF(p_confirmation = 2, 1, 0);
    DECLARE v_changed BIGINT DEFAULT 0;
    DECLARE v_status TINYINT;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
    START TRANSACTION;
    IF p_consume THEN
        UPDATE {tokens} t
        SET t.status = 2, t.consumed_at = p_at,
            t.c_identity = p_identity, t.c_ip = p_ip, t.c_user_agent = p_user_agent, t.c_session = p_session
        WHERE t.id = p_id AND t.status = v_issued AND t.secret_hash = p_hash
            AND t.member = p_member AND t.purpose = p_purpose AND t.batch = p_batch
            AND t.expires_at > p_at AND (t.state IS NULL OR t.state <=> p_state)
            AND NOT EXISTS (SELECT 1 FROM {guards} g
                WHERE ((g.scope = 1 AND g.k = '') OR (g.scope = 2 AND g.k = t.batch) OR (g.scope = 3 AND g.k = t.member))
                AND (g.held OR g.cutoff > t.issued_at OR g.cutoff_seq > t.seq));
        SET v_changed = ROW_COUNT();
    END IF;
    IF v_changed = 1 THEN
        -- Success, the common case, reads the record in place: a nested
        -- CALL costs more than the SELECT itself. The columns are check's.
        SELECT 0 AS outcome, t.id, t.member, t.purpose, t.batch, t.recipient, t.secret_hash, t.state,
            t.issued_at, t.expires_at, t.status, t.failures, t.consumed_at, t.revoked_at,
            t.c_identity, t.c_ip, t.c_user_agent, t.c_session, t.seq
        FROM {tokens} t WHERE t.id = p_id;
    ELSEIF p_confirmation = 0 THEN
        CALL {check}(p_id, p_hash, p_at, p_state, p_member, p_purpose, p_batch, NULL, 8);
    ELSE
        SELECT MAX(t.status) INTO v_status FROM {tokens} t
        WHERE t.id = p_id AND t.secret_hash = p_hash AND t.member = p_member AND t.purpose = p_purpose
            AND t.batch = p_batch
        FOR UPDATE;
        IF v_status IS NOT NULL THEN
            -- The assignments read only columns assigned after them, so
            -- that they mean the same with or without the
            -- SIMULTANEOUS_ASSIGNMENT SQL mode.
            UPDATE {tokens}
            SET revoked_at = IF(v_add > 0 AND p_max > 0 AND failures + 1 >= p_max AND status = 1, p_at, revoked_at),
                status = IF(v_add > 0 AND p_max > 0 AND failures + 1 >= p_max AND status = 1, 3, status),
                failures = failures + v_add, presented = presented + 1
            WHERE id = p_id;
        END IF;
        CALL {check}(p_id, p_hash, p_at, p_state, p_member, p_purpose, p_batch, v_status,
            IF(p_confirmation = 2, 9, IF(p_consume, 8, 0)));
    END IF;
    COMMIT;
END$$

DELIMITER ;
