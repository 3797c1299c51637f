// Package store defines what oncelink keeps of every link it issues, and the
// contract a backend must honour to keep it.
//
// A [Store] holds one [Record] per minted link. The record never holds the
// token or its secret: only the SHA-256 hash of the secret, so that a dump of
// the store opens no account. The verifier asks the store to [Tokens.Consume]
// a record; the store checks, in one atomic operation, that the record exists,
// that the secret hash matches and that the token's member, purpose and batch
// are the record's (the record, not the token, is the truth), counts a failed
// identity confirmation whatever the record's state, checks that it is not
// revoked (one by one, or by a watermark of time or of the store's
// sequence), not already consumed, not expired,
// not frozen and that the member's state has not changed, and marks it
// consumed. Exactly one of any number of concurrent consumers of one record
// succeeds.
//
// The identity a person presents is compared by the verifier, which alone
// can compute a link's keyed bindings; the request tells the store how it
// compared ([Confirmation]) and the failure cap, and the store counts and
// revokes in the same operation as its checks. A [Mismatched] presentation
// gets the outcome of the record's state (used, revoked...) exactly as a
// [Confirmed] one would, at the same cost, and [ErrMismatch] only when the
// record was consumable: a settled link cannot be used to guess.
//
// Every backend also keeps windowed counters ([Counters]): the verifier caps
// confirmation attempts per member with them, across instances, and a site
// can limit its own requests (a "send me a login link" page, per address
// and per client address) with the same capability.
//
// Every text a store keeps or looks up is bounded UTF-8 without NUL
// ([ValidText]); stores refuse anything else with [ErrInvalid], the same way
// on every engine, and writers clean untrusted text first ([CleanText]), so
// that a byte a client sends can neither fail a write nor blind the ledger.
//
// Backends live in sub-packages: [github.com/oncelink/oncelink/store/memstore]
// for tests and single processes, and the durable sqlitestore,
// postgresstore, mysqlstore and redisstore. Every backend runs the conformance suite in
// [github.com/oncelink/oncelink/store/storetest].
//
// # Outcomes
//
// The checks run in a fixed order and the first that fails decides the
// error: [ErrNotFound], [ErrSecret], [ErrRevoked], [ErrUsed], [ErrExpired],
// [ErrFrozen], [ErrStale], and [ErrMismatch] for a mismatched presentation
// of a record that passed them all. Any other failure (a lost connection, a
// deadline, a driver error) wraps [ErrUnavailable]; callers treat it as a
// refusal, never as an acceptance.
//
// # Security considerations
//
// A store is trusted with the hash of each link's secret, the member id, the
// purpose, the batch and the recipient address, and with the audit ledger
// (presented identities, IP addresses, user agents and session references).
// None of that lets anyone log in: a link needs the signed token, which only
// the member's message holds. The ledger is personal data and should be kept
// only as long as an incident review may need it ([Tokens.Purge]).
//
// Revocations, watermarks and holds take effect on the next operation of
// every process that shares the store: no backend caches them.
//
// [Decide] and [Check] state the rules of Consume in Go, over a record and
// the [Guards] in force: Decide the record's state, Check the whole order
// for a request, its claims and confirmation included, on the record as it
// was before the request counted its failure. Reports describe links by
// them, and the conformance suite checks every store's Peek and Consume
// against them.
//
// # Clocks
//
// A record's IssuedAt is the minting machine's clock; a request's At is
// the verifying machine's. [Tokens.WatermarkNow] decides by neither: it
// draws a number from the store's own sequence, which every Insert draws
// from too ([Record.Seq]), and covers every record recorded before it,
// whatever their issue times. [Tokens.Watermark] and filter bounds compare
// with IssuedAt, and so with the minting machine's clock. Expiry compares
// ExpiresAt with the request's At.
//
// # Opening and creating
//
// A backend that can be told to open only an existing store (the sqlite
// and redis MustExist options, postgres' Ping of the schema version)
// reports a missing or outdated one as [ErrNoStore], and creates nothing:
// tools that act on a store should never act on a new, empty one by
// mistake.
//
// # Backwards compatibility
//
// The [Store] interface may gain methods only in a new major version. New
// optional capabilities are separate interfaces found by type assertion; a
// backend without one answers [ErrUnsupported].
package store
