-- 0001: the first schema of the oncelink SQLite store.
--
-- Ids are the 16 bytes of the token's UUID, times are unix microseconds
-- (UTC), hashes are raw 32-byte SHA-256 values. status and scope hold the
-- numeric values of store.Status (1 issued, 2 consumed, 3 revoked) and
-- store.Scope (1 global, 2 batch, 3 member).

PRAGMA application_id = 1869505388; -- "oncl": this file belongs to oncelink

CREATE TABLE tokens (
	id                BLOB    NOT NULL PRIMARY KEY,
	member            TEXT    NOT NULL,
	purpose           TEXT    NOT NULL,
	batch             TEXT    NOT NULL DEFAULT '',
	recipient         TEXT    NOT NULL DEFAULT '',
	secret_hash       BLOB    NOT NULL,
	state_hash        BLOB,
	issued_at         INTEGER NOT NULL,
	expires_at        INTEGER NOT NULL,
	status            INTEGER NOT NULL DEFAULT 1,
	failures          INTEGER NOT NULL DEFAULT 0,
	consumed_at       INTEGER,
	revoked_at        INTEGER,
	consumer_identity TEXT    NOT NULL DEFAULT '',
	consumer_ip       TEXT    NOT NULL DEFAULT '',
	consumer_agent    TEXT    NOT NULL DEFAULT '',
	consumer_session  TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

-- Selection by member or batch (revoke, count, records, ledger), in issue
-- order for the derived ledger entries; expiry for purge.
CREATE INDEX tokens_member ON tokens (member, issued_at);
CREATE INDEX tokens_batch ON tokens (batch, issued_at);
CREATE INDEX tokens_expires ON tokens (expires_at);

-- Revocation watermarks: member '' is the global one.
CREATE TABLE marks (
	member    TEXT    NOT NULL PRIMARY KEY,
	before_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Holds (freezes): hold_key is '' for the global hold.
CREATE TABLE holds (
	scope    INTEGER NOT NULL,
	hold_key TEXT    NOT NULL,
	since    INTEGER,
	reason   TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (scope, hold_key)
) STRICT, WITHOUT ROWID;

-- The appended part of the audit ledger. Issued and consumed entries are
-- derived from tokens and never stored here.
CREATE TABLE events (
	seq      INTEGER PRIMARY KEY,
	at       INTEGER NOT NULL,
	kind     TEXT    NOT NULL,
	reason   TEXT    NOT NULL DEFAULT '',
	token_id BLOB,
	member   TEXT    NOT NULL DEFAULT '',
	batch    TEXT    NOT NULL DEFAULT '',
	purpose  TEXT    NOT NULL DEFAULT '',
	identity TEXT    NOT NULL DEFAULT '',
	ip       TEXT    NOT NULL DEFAULT '',
	agent    TEXT    NOT NULL DEFAULT '',
	session  TEXT    NOT NULL DEFAULT '',
	n        INTEGER NOT NULL DEFAULT 0,
	actor    TEXT    NOT NULL DEFAULT '',
	detail   TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX events_batch ON events (batch, at);
CREATE INDEX events_member ON events (member, at);
CREATE INDEX events_at ON events (at);
