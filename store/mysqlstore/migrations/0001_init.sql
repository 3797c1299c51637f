-- oncelink MariaDB schema, version 1. {tokens}, {guards}, {events},
-- {check}, {consume} and {fail} are replaced by the quoted names of the
-- store's tables and procedures, its prefix ("oncelink_" unless
-- WithTablePrefix says otherwise) and the name, before the file runs.
-- Statements end with the delimiter at the end of a line, as for the
-- mariadb client: the file can be applied by hand after that replacement.
--
-- Ids are the 16 bytes of the token's UUID, so that records sort in id
-- order; times are DATETIME(6) in UTC (the store's connections read and
-- write UTC); hashes are raw 32-byte SHA-256 values. status and scope hold
-- the numeric values of store.Status (1 issued, 2 consumed, 3 revoked) and
-- store.Scope (1 global, 2 batch, 3 member). Every text column is utf8mb4
-- with the utf8mb4_nopad_bin collation: equality is byte equality, with no
-- case or accent folding and no trailing-space padding, so that a member
-- "ann" never matches "Ann" or "ann ".
--
-- Every statement is idempotent, because MariaDB commits each DDL statement
-- on its own: a migration interrupted half-way is completed by the next
-- Migrate, which applies it again from the start.

-- One row per issued link. Consume changes only columns no index covers.
CREATE TABLE IF NOT EXISTS {tokens} (
    id           BINARY(16)   NOT NULL,
    issued_at    DATETIME(6)  NOT NULL,
    expires_at   DATETIME(6)  NOT NULL,
    consumed_at  DATETIME(6)  NULL,
    revoked_at   DATETIME(6)  NULL,
    failures     INT          NOT NULL DEFAULT 0,
    status       TINYINT      NOT NULL DEFAULT 1,
    secret_hash  BINARY(32)   NOT NULL,
    state        BINARY(32)   NULL,
    member       VARCHAR(256) NOT NULL,
    purpose      VARCHAR(64)  NOT NULL,
    batch        VARCHAR(128) NOT NULL DEFAULT '',
    recipient    VARCHAR(320) NOT NULL DEFAULT '',
    c_identity   VARCHAR(320) NULL,
    c_ip         VARCHAR(64)  NULL,
    c_user_agent VARCHAR(512) NULL,
    c_session    VARCHAR(256) NULL,
    PRIMARY KEY (id),
    KEY tokens_member (member, issued_at),
    KEY tokens_batch (batch, issued_at),
    KEY tokens_issued (issued_at),
    KEY tokens_expires (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

-- Holds and watermarks: at most one row per scope and key, so that the
-- consume statement finds every guard over a record with three primary-key
-- lookups. A batch row never has a cutoff.
CREATE TABLE IF NOT EXISTS {guards} (
    scope  TINYINT       NOT NULL,
    k      VARCHAR(256)  NOT NULL,
    cutoff DATETIME(6)   NULL,
    held   BOOLEAN       NOT NULL DEFAULT FALSE,
    since  DATETIME(6)   NULL,
    reason VARCHAR(1024) NULL,
    PRIMARY KEY (scope, k)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

-- Appended ledger entries. Issued and consumed entries are derived from
-- tokens and never stored here.
CREATE TABLE IF NOT EXISTS {events} (
    seq         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    occurred_at DATETIME(6)     NOT NULL,
    kind        VARCHAR(16)     NOT NULL,
    reason      VARCHAR(1024)   NOT NULL DEFAULT '',
    token_id    BINARY(16)      NULL,
    member      VARCHAR(256)    NOT NULL DEFAULT '',
    batch       VARCHAR(128)    NOT NULL DEFAULT '',
    purpose     VARCHAR(64)     NOT NULL DEFAULT '',
    identity    VARCHAR(320)    NOT NULL DEFAULT '',
    ip          VARCHAR(64)     NOT NULL DEFAULT '',
    user_agent  VARCHAR(512)    NOT NULL DEFAULT '',
    session     VARCHAR(256)    NOT NULL DEFAULT '',
    count       BIGINT          NOT NULL DEFAULT 0,
    actor       VARCHAR(256)    NOT NULL DEFAULT '',
    detail      VARCHAR(4096)   NOT NULL DEFAULT '',
    PRIMARY KEY (seq),
    KEY events_at (occurred_at, seq),
    KEY events_batch (batch, occurred_at, seq),
    KEY events_member (member, occurred_at, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

DROP PROCEDURE IF EXISTS {check};

DELIMITER $$

-- check returns one row, the outcome of every check on a record and the
-- record, or no row when there is none. The outcome is in contract order:
-- 0 consumable, 2 secret, 3 revoked (one by one or by a watermark), 4 used,
-- 5 expired, 6 frozen, 7 stale. p_won says who asks: NULL for Peek; TRUE
-- for fail, which has just changed the record itself and wants it whatever
-- it is (outcome 0); FALSE for consume whose UPDATE changed nothing, where
-- a record that passes every check answers 8 (changed since the UPDATE:
-- try again) rather than 0. The CASE below and the WHERE clause of consume
-- must agree.
CREATE PROCEDURE {check}(IN p_id BINARY(16), IN p_hash BINARY(32), IN p_at DATETIME(6),
    IN p_state BINARY(32), IN p_won BOOLEAN)
    READS SQL DATA SQL SECURITY INVOKER
SELECT CASE
        WHEN p_won THEN 0
        WHEN t.secret_hash <> p_hash THEN 2
        WHEN t.status = 3 OR EXISTS (SELECT 1 FROM {guards} g
            WHERE ((g.scope = 1 AND g.k = '') OR (g.scope = 3 AND g.k = t.member))
            AND g.cutoff > t.issued_at) THEN 3
        WHEN t.status = 2 THEN 4
        WHEN t.expires_at <= p_at THEN 5
        WHEN EXISTS (SELECT 1 FROM {guards} g
            WHERE ((g.scope = 1 AND g.k = '') OR (g.scope = 2 AND g.k = t.batch) OR (g.scope = 3 AND g.k = t.member))
            AND g.held) THEN 6
        WHEN t.state IS NOT NULL AND NOT (t.state <=> p_state) THEN 7
        WHEN p_won IS NULL THEN 0
        ELSE 8 END AS outcome,
    t.id, t.member, t.purpose, t.batch, t.recipient, t.secret_hash, t.state, t.issued_at, t.expires_at,
    t.status, t.failures, t.consumed_at, t.revoked_at, t.c_identity, t.c_ip, t.c_user_agent, t.c_session
FROM {tokens} t WHERE t.id = p_id$$

DELIMITER ;

DROP PROCEDURE IF EXISTS {consume};

DELIMITER $$

-- consume marks a record consumed if it passes every check, and returns
-- check's row: one UPDATE whose WHERE clause holds every check takes the
-- record's row lock and, under the lock, reads the newest committed version
-- of the row and of the guards that cover it, so of any number of
-- concurrent callers exactly one changes the row. The outcome of a refusal
-- is read by check in the same transaction, while the row lock and the
-- guard locks the UPDATE took are still held, so that it is the reason the
-- UPDATE failed. Any error rolls the transaction back.
CREATE PROCEDURE {consume}(IN p_id BINARY(16), IN p_hash BINARY(32), IN p_at DATETIME(6),
    IN p_state BINARY(32), IN p_identity VARCHAR(320) CHARACTER SET utf8mb4,
    IN p_ip VARCHAR(64) CHARACTER SET utf8mb4, IN p_user_agent VARCHAR(512) CHARACTER SET utf8mb4,
    IN p_session VARCHAR(256) CHARACTER SET utf8mb4)
    MODIFIES SQL DATA SQL SECURITY INVOKER
BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
    START TRANSACTION;
    UPDATE {tokens} t
    SET t.status = 2, t.consumed_at = p_at,
        t.c_identity = p_identity, t.c_ip = p_ip, t.c_user_agent = p_user_agent, t.c_session = p_session
    WHERE t.id = p_id AND t.status = 1 AND t.secret_hash = p_hash AND t.expires_at > p_at
        AND (t.state IS NULL OR t.state <=> p_state)
        AND NOT EXISTS (SELECT 1 FROM {guards} g
            WHERE ((g.scope = 1 AND g.k = '') OR (g.scope = 2 AND g.k = t.batch) OR (g.scope = 3 AND g.k = t.member))
            AND (g.held OR g.cutoff > t.issued_at));
    IF ROW_COUNT() = 1 THEN
        -- Success, the common case, reads the record in place: a nested
        -- CALL costs more than the SELECT itself. The columns are check's.
        SELECT 0 AS outcome, t.id, t.member, t.purpose, t.batch, t.recipient, t.secret_hash, t.state,
            t.issued_at, t.expires_at, t.status, t.failures, t.consumed_at, t.revoked_at,
            t.c_identity, t.c_ip, t.c_user_agent, t.c_session
        FROM {tokens} t WHERE t.id = p_id;
    ELSE
        CALL {check}(p_id, p_hash, p_at, p_state, FALSE);
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
    CALL {check}(p_id, NULL, NULL, NULL, TRUE);
    COMMIT;
END$$

DELIMITER ;
