// Command mintkill is the process TestMintBatchKilled kills: built without
// the race detector, so that a 100,000-link batch takes about as long as in
// production.
//
//	mintkill mint STORE-URL BATCH N    mint N links in one MintBatch
//	mintkill count STORE-URL [BATCH]   print how many records the batch (or the store) holds
//	mintkill integrity PATH            print PRAGMA integrity_check of a SQLite file
//
// mint prints "inserting" when MintBatch hands the signed batch to the
// store, and "done" when MintBatch returns.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"os"
	"strconv"

	_ "modernc.org/sqlite"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/storeurl"
	"github.com/oncelink/oncelink/token"
)

// announcing is a store that says when an Insert starts.
type announcing struct{ store.Store }

func (a announcing) Insert(ctx context.Context, recs []store.Record) error {
	fmt.Println("inserting")
	return a.Store.Insert(ctx, recs)
}

// InsertSeq keeps the store's streamed insert: the batch is handed to the
// store as its first block is signed.
func (a announcing) InsertSeq(ctx context.Context, recs iter.Seq2[store.Record, error]) error {
	fmt.Println("inserting")
	return store.InsertSeq(ctx, a.Store, recs)
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mintkill:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 4 && args[0] == "mint":
		n, err := strconv.Atoi(args[3])
		if err != nil {
			return err
		}
		return mint(args[1], args[2], n)
	case (len(args) == 2 || len(args) == 3) && args[0] == "count":
		f := store.Filter{All: true}
		if len(args) == 3 {
			f = store.Filter{Batches: []string{args[2]}}
		}
		return count(args[1], f)
	case len(args) == 2 && args[0] == "integrity":
		return integrity(args[1])
	}
	return fmt.Errorf("usage: mintkill mint URL BATCH N | count URL [BATCH] | integrity PATH")
}

func mint(url, batch string, n int) error {
	ctx := context.Background()
	st, closeStore, err := storeurl.Open(ctx, url)
	if err != nil {
		return err
	}
	defer closeStore()
	key, err := token.GenerateHMACKey("kill")
	if err != nil {
		return err
	}
	keys, err := token.NewKeyring(key)
	if err != nil {
		return err
	}
	iss, err := token.NewIssuer(keys, announcing{st}, token.WithBaseURL("https://members.example.org/login"))
	if err != nil {
		return err
	}
	reqs := make([]token.Request, n)
	for i := range reqs {
		reqs[i] = token.Request{Member: fmt.Sprintf("m-%d", i), Purpose: token.PurposeLogin,
			Recipient: fmt.Sprintf("m-%d@example.org", i)}
	}
	if _, err := iss.MintBatch(ctx, batch, reqs); err != nil {
		return err
	}
	fmt.Println("done")
	return nil
}

func count(url string, f store.Filter) error {
	ctx := context.Background()
	st, closeStore, err := storeurl.Open(ctx, url)
	if err != nil {
		return err
	}
	defer closeStore()
	n, err := st.Count(ctx, f)
	if err != nil {
		return err
	}
	fmt.Println(n)
	return nil
}

func integrity(path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		return err
	}
	fmt.Println(res)
	return nil
}
