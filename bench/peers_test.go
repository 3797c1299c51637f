package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/internal/floor"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/storetest"
)

// BenchmarkPeers sets oncelink's whole verification (the verifier's
// Consume: bounded parse, signature, claims, the typed address against the
// link's binding, the member limit, the atomic consume) beside the consume
// patterns of other login-link and one-time-code verifiers, on the same
// server, in the same run, against the same table: the one the store's own
// migration made. Each peer is modelled by the statements it sends, read
// from its source; what it does besides consuming (sessions, audit rows)
// is left out, so a peer's figure is the least it spends.
//
//   - kratos: Ory Kratos's code login (persistence/sql/persister_code.go,
//     useOneTimeCode): the flow's submit count, UPDATE ... RETURNING, on its
//     own (here the link's row's failures column stands for the flow's
//     submit_count); then a transaction: SELECT the flow's codes, compare
//     the HMAC in Go, UPDATE used_at by id, COMMIT.
//   - supabase: Supabase Auth's magic-link verify (internal/api/verify.go,
//     verifyGet, then User.Recover): a transaction: SELECT the user by the
//     token's hash, check expiry in Go, UPDATE by id (unconditionally: two
//     concurrent verifications can both succeed), COMMIT.
//   - readwrite: the least a read-then-write verifier spends: SELECT, then
//     UPDATE ... WHERE consumed_at IS NULL, no transaction.
//   - keycloak (Redis): Keycloak's action token: verify the signed token,
//     then check its key in the single-use store (GET), then put it there
//     (SET NX with the token's remaining lifetime).
//   - raw: the engine's one operation that consumes atomically (UPDATE ...
//     RETURNING; a Lua script), with no parse: the floor.
//   - stateless: a signed link and no store (golang-jwt parse and verify):
//     what a link that is not single-use costs.
func BenchmarkPeers(b *testing.B) {
	b.Run("postgres", benchPeersPostgres)
	b.Run("redis", benchPeersRedis)
	b.Run("stateless", func(b *testing.B) {
		key := make([]byte, 32)
		rand.Read(key)
		for _, g := range []int{1, 16} {
			b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
				toks := jwtLinks(b, key, b.N)
				p := floor.Parser()
				timed(b, g, func(i int) error {
					_, err := floor.Parse(p, key, toks[i])
					return err
				})
			})
		}
	})
}

// peerLinks inserts n links through the store (its own Insert, into its
// own table) and returns them with their secrets, for the peers to
// present.
func peerLinks(b *testing.B, st store.Store, n int) []storetest.Link {
	b.Helper()
	links := make([]storetest.Link, n)
	recs := make([]store.Record, n)
	member := fmt.Sprintf("peer-%d", mints.Add(1))
	for i := range links {
		links[i] = storetest.NewLink(b, fmt.Sprintf("%s-%d", member, i))
		recs[i] = links[i].Record
	}
	for i := 0; i < n; i += 10000 {
		if err := st.Insert(context.Background(), recs[i:min(i+10000, n)]); err != nil {
			b.Fatal(err)
		}
	}
	return links
}

var errPeerRefused = errors.New("peer refused a valid link")

func benchPeersPostgres(b *testing.B) {
	ctx := context.Background()
	pool, st, tokens := pgStore(b)
	s := newSite(b, st)
	// The table is not empty on the incident day.
	peerLinks(b, st, 50000)
	if _, err := pool.Exec(ctx, "ANALYZE "+tokens); err != nil {
		b.Fatal(err)
	}
	peers := []struct {
		name    string
		consume func(ctx context.Context, pool *pgxpool.Pool, l *storetest.Link) error
	}{
		{"kratos", kratos(tokens)},
		{"supabase", supabase(tokens)},
		{"readwrite", readWrite(tokens)},
		{"raw", rawUpdate(tokens)},
	}
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("oncelink/goroutines=%d", g), func(b *testing.B) {
			reqs := s.invite(b, b.N)
			timed(b, g, func(i int) error {
				_, err := s.v.Consume(ctx, reqs[i])
				return err
			})
		})
		for _, p := range peers {
			b.Run(fmt.Sprintf("%s/goroutines=%d", p.name, g), func(b *testing.B) {
				links := peerLinks(b, st, b.N)
				timed(b, g, func(i int) error { return p.consume(ctx, pool, &links[i]) })
			})
		}
	}
}

// row is what the peers read of a link.
type peerRow struct {
	hash     []byte
	expires  time.Time
	consumed *time.Time
}

func (r *peerRow) valid(secret []byte, now time.Time) bool {
	h := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(r.hash, h[:]) == 1 && r.consumed == nil && now.Before(r.expires)
}

func kratos(tokens string) func(context.Context, *pgxpool.Pool, *storetest.Link) error {
	count := "UPDATE " + tokens + " SET failures = failures + 1 WHERE id = $1 RETURNING failures"
	read := "SELECT secret_hash, expires_at, consumed_at FROM " + tokens + " WHERE id = $1"
	use := "UPDATE " + tokens + " SET consumed_at = $2, status = 2 WHERE id = $1"
	return func(ctx context.Context, pool *pgxpool.Pool, l *storetest.Link) error {
		var submits int
		if err := pool.QueryRow(ctx, count, l.ID).Scan(&submits); err != nil {
			return err
		}
		if submits > 5 {
			return errPeerRefused
		}
		ok := false
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var r peerRow
			if err := tx.QueryRow(ctx, read, l.ID).Scan(&r.hash, &r.expires, &r.consumed); err != nil {
				return err
			}
			now := time.Now()
			if ok = r.valid(l.Secret, now); !ok {
				return nil
			}
			_, err := tx.Exec(ctx, use, l.ID, now)
			return err
		})
		if err == nil && !ok {
			err = errPeerRefused
		}
		return err
	}
}

func supabase(tokens string) func(context.Context, *pgxpool.Pool, *storetest.Link) error {
	read := "SELECT secret_hash, expires_at, consumed_at FROM " + tokens + " WHERE id = $1"
	use := "UPDATE " + tokens + " SET consumed_at = $2, status = 2 WHERE id = $1"
	return func(ctx context.Context, pool *pgxpool.Pool, l *storetest.Link) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var r peerRow
			if err := tx.QueryRow(ctx, read, l.ID).Scan(&r.hash, &r.expires, &r.consumed); err != nil {
				return err
			}
			now := time.Now()
			if !r.valid(l.Secret, now) {
				return errPeerRefused
			}
			_, err := tx.Exec(ctx, use, l.ID, now)
			return err
		})
	}
}

func readWrite(tokens string) func(context.Context, *pgxpool.Pool, *storetest.Link) error {
	read := "SELECT secret_hash, expires_at, consumed_at FROM " + tokens + " WHERE id = $1"
	use := "UPDATE " + tokens + " SET consumed_at = $2, status = 2 WHERE id = $1 AND consumed_at IS NULL"
	return func(ctx context.Context, pool *pgxpool.Pool, l *storetest.Link) error {
		var r peerRow
		if err := pool.QueryRow(ctx, read, l.ID).Scan(&r.hash, &r.expires, &r.consumed); err != nil {
			return err
		}
		now := time.Now()
		if !r.valid(l.Secret, now) {
			return errPeerRefused
		}
		tag, err := pool.Exec(ctx, use, l.ID, now)
		if err == nil && tag.RowsAffected() != 1 {
			err = errPeerRefused
		}
		return err
	}
}

func rawUpdate(tokens string) func(context.Context, *pgxpool.Pool, *storetest.Link) error {
	use := "UPDATE " + tokens + " SET consumed_at = $2, status = 2 WHERE id = $1 AND status = 1 AND secret_hash = $3 AND expires_at > $2 RETURNING id"
	return func(ctx context.Context, pool *pgxpool.Pool, l *storetest.Link) error {
		h := sha256.Sum256(l.Secret)
		var id string
		return pool.QueryRow(ctx, use, l.ID, time.Now(), h[:]).Scan(&id)
	}
}

// jwtLinks mints n stateless signed links (golang-jwt HS256, the claims of
// an oncelink token).
func jwtLinks(b *testing.B, key []byte, n int) []string {
	b.Helper()
	toks := make([]string, n)
	for i := range toks {
		t, _, err := floor.Mint(key)
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = t
	}
	return toks
}

// rawScript consumes a link's key if it holds the secret's hash: the one
// round trip a single-use check needs on Redis.
var rawScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`)

func benchPeersRedis(b *testing.B) {
	ctx := context.Background()
	c, st, tag := redisStore(b)
	s := newSite(b, st)
	key := make([]byte, 32)
	rand.Read(key)
	if err := rawScript.Load(ctx, c).Err(); err != nil {
		b.Fatal(err)
	}
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("oncelink/goroutines=%d", g), func(b *testing.B) {
			reqs := s.invite(b, b.N)
			timed(b, g, func(i int) error {
				_, err := s.v.Consume(ctx, reqs[i])
				return err
			})
		})
		b.Run(fmt.Sprintf("keycloak/goroutines=%d", g), func(b *testing.B) {
			toks := jwtLinks(b, key, b.N)
			p := floor.Parser()
			timed(b, g, func(i int) error { return keycloak(ctx, c, p, key, tag, toks[i]) })
		})
		b.Run(fmt.Sprintf("raw/goroutines=%d", g), func(b *testing.B) {
			links := make([]storetest.Link, b.N)
			pipe := c.Pipeline()
			for i := range links {
				links[i] = storetest.NewLink(b, "raw")
				pipe.Set(ctx, tag+":raw:"+links[i].ID, links[i].SecretHash[:], time.Hour)
				if pipe.Len() == 10000 || i == len(links)-1 {
					if _, err := pipe.Exec(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			timed(b, g, func(i int) error {
				h := sha256.Sum256(links[i].Secret)
				n, err := rawScript.Run(ctx, c, []string{tag + ":raw:" + links[i].ID}, h[:]).Int64()
				if err == nil && n != 1 {
					err = errPeerRefused
				}
				return err
			})
		})
	}
}

// keycloak verifies a signed action token, checks that its key is not in
// the single-use store, and puts it there for the token's remaining
// lifetime.
func keycloak(ctx context.Context, c *goredis.Client, p *jwt.Parser, key []byte, tag, tok string) error {
	var claims floor.Claims
	if _, err := p.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
		return err
	}
	used := tag + ":kc:" + claims.ID
	if err := c.Get(ctx, used).Err(); !errors.Is(err, goredis.Nil) {
		if err == nil {
			err = errPeerRefused
		}
		return err
	}
	ttl := time.Until(claims.ExpiresAt.Time)
	ok, err := c.SetNX(ctx, used, "1", ttl).Result()
	if err == nil && !ok {
		err = errPeerRefused
	}
	return err
}
