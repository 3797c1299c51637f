-- oncelink MariaDB schema, version 2: the token's claims in the secret
-- check, failed confirmations counted in the consume procedure whatever
-- the record's state, and windowed counters (store.Counters). {tokens},
-- {guards}, {hits}, {check}, {consume}, {fail} and {hit} are replaced as in
-- 0001_init.sql. Every statement is idempotent: a migration interrupted
-- half-way is applied again, whole, by the next Migrate.
--
-- The procedures take other parameters than version 1's: an instance of an
-- older version fails its consumes (ErrUnavailable) once this migration is
-- applied.

-- presented counts the confirmed or mismatched presentations of a record
-- that did not consume it. Each adds 1, so that a right identity and a
-- wrong one write the row alike: MariaDB skips an UPDATE that changes no
-- value, and the commit of a transaction that wrote nothing skips the log
-- flush, which a wrong identity's count would not.
ALTER TABLE {tokens} ADD COLUMN IF NOT EXISTS presented BIGINT NOT NULL DEFAULT 0;

-- One row per key, window length (microseconds) and bucket (the number of
-- the fixed window since the Unix epoch). hit deletes a key's older buckets
-- as it starts a new one; Purge deletes buckets that ended before its
-- cut-off.
CREATE TABLE IF NOT EXISTS {hits} (
    k      VARCHAR(512) NOT NULL,
    w      BIGINT       NOT NULL,
    bucket BIGINT       NOT NULL,
    n      BIGINT       NOT NULL,
    PRIMARY KEY (k, w, bucket)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

DROP PROCEDURE IF EXISTS {check};

DELIMITER $$

-- check returns one row, the outcome of every check on a record and the
-- record, or no row when there is none. The outcome is in contract order:
-- 2 secret (the secret hash, or the token's member, purpose or batch
-- differ from the record's), 3 revoked (one by one or by a watermark), 4
-- used, 5 expired, 6 frozen, 7 stale; a record that passes every check
-- answers p_pass: 0 for Peek, 8 for consume whose UPDATE changed nothing
-- (changed since the UPDATE: try again), 9 for a mismatched request. A
-- NULL p_pass asks for the record whatever it is, with outcome 0 (fail).
-- p_status is the record's status before the caller counted a failure on
-- it, NULL to judge the record's own: a count changes only failures and,
-- at the cap, the status. The CASE below and the WHERE clause of consume
-- must agree.
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
            AND g.cutoff > t.issued_at) THEN 3
        WHEN COALESCE(p_status, t.status) = 2 THEN 4
        WHEN t.expires_at <= p_at THEN 5
        WHEN EXISTS (SELECT 1 FROM {guards} g
            WHERE ((g.scope = 1 AND g.k = '') OR (g.scope = 2 AND g.k = t.batch) OR (g.scope = 3 AND g.k = t.member))
            AND g.held) THEN 6
        WHEN t.state IS NOT NULL AND NOT (t.state <=> p_state) THEN 7
        ELSE p_pass END AS outcome,
    t.id, t.member, t.purpose, t.batch, t.recipient, t.secret_hash, t.state, t.issued_at, t.expires_at,
    t.status, t.failures, t.consumed_at, t.revoked_at, t.c_identity, t.c_ip, t.c_user_agent, t.c_session
FROM {tokens} t WHERE t.id = p_id$$

DELIMITER ;

DROP PROCEDURE IF EXISTS {consume};

DELIMITER $$

-- consume presents a record, in one transaction, and returns check's row.
-- p_confirmation is 0 (unconfirmed), 1 (confirmed) or 2 (mismatched), as
-- store.Confirmation; p_consume is FALSE for a Peek of a confirmed or
-- mismatched request, which goes through the same steps but the UPDATE.
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
                AND (g.held OR g.cutoff > t.issued_at));
        SET v_changed = ROW_COUNT();
    END IF;
    IF v_changed = 1 THEN
        -- Success, the common case, reads the record in place: a nested
        -- CALL costs more than the SELECT itself. The columns are check's.
        SELECT 0 AS outcome, t.id, t.member, t.purpose, t.batch, t.recipient, t.secret_hash, t.state,
            t.issued_at, t.expires_at, t.status, t.failures, t.consumed_at, t.revoked_at,
            t.c_identity, t.c_ip, t.c_user_agent, t.c_session
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

DROP PROCEDURE IF EXISTS {fail};

DELIMITER $$

-- fail counts one failed identity confirmation and revokes the record, if
-- it is still issued, once the count reaches p_max (p_max > 0). It returns
-- check's row for the record after the change, or no row. The assignments
-- read only columns assigned after them, so that they mean the same with
-- or without the SIMULTANEOUS_ASSIGNMENT SQL mode.
CREATE PROCEDURE {fail}(IN p_id BINARY(16), IN p_at DATETIME(6), IN p_max INT)
    MODIFIES SQL DATA SQL SECURITY INVOKER
BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
    START TRANSACTION;
    UPDATE {tokens}
    SET revoked_at = IF(p_max > 0 AND failures + 1 >= p_max AND status = 1, p_at, revoked_at),
        status = IF(p_max > 0 AND failures + 1 >= p_max AND status = 1, 3, status),
        failures = failures + 1
    WHERE id = p_id;
    CALL {check}(p_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    COMMIT;
END$$

DELIMITER ;

DROP PROCEDURE IF EXISTS {hit};

DELIMITER $$

-- hit counts one hit on key p_k in bucket p_bucket of windows of p_w
-- microseconds, and returns one row: the bucket's count, this hit
-- included, and the previous bucket's (NULL when it has none). The upsert
-- takes the bucket's row lock, and the count is read after it in the same
-- transaction, so concurrent hits each read their own count. The first
-- hit of a bucket deletes the key's buckets before the previous one.
CREATE PROCEDURE {hit}(IN p_k VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    IN p_w BIGINT, IN p_bucket BIGINT)
    MODIFIES SQL DATA SQL SECURITY INVOKER
BEGIN
    DECLARE v_n BIGINT;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
    START TRANSACTION;
    INSERT INTO {hits} (k, w, bucket, n) VALUES (p_k, p_w, p_bucket, 1)
    ON DUPLICATE KEY UPDATE n = n + 1;
    SELECT MAX(h.n) INTO v_n FROM {hits} h WHERE h.k = p_k AND h.w = p_w AND h.bucket = p_bucket;
    IF v_n = 1 THEN
        DELETE FROM {hits} WHERE k = p_k AND w = p_w AND bucket < p_bucket - 1;
    END IF;
    SELECT v_n AS n, (SELECT p.n FROM {hits} p WHERE p.k = p_k AND p.w = p_w AND p.bucket = p_bucket - 1) AS prev;
    COMMIT;
END$$

DELIMITER ;
