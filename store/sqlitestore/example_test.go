package sqlitestore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/sqlitestore"
)

func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "oncelink")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "oncelink.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	now := time.Now()
	secret := sha256.Sum256([]byte("the token's random secret"))
	rec := store.Record{
		ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Member: "m-17", Purpose: "login",
		SecretHash: secret, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	}
	if err := st.Insert(ctx, []store.Record{rec}); err != nil {
		log.Fatal(err)
	}
	req := store.ConsumeRequest{ID: rec.ID, SecretHash: secret, At: now, Member: rec.Member, Purpose: rec.Purpose}
	_, err = st.Consume(ctx, req)
	fmt.Println("first:", err)
	_, err = st.Consume(ctx, req)
	fmt.Println("second:", err)
	// Output:
	// first: <nil>
	// second: store: token already used
}
