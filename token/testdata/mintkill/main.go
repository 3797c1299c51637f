// Command mintkill mints one batch of links into a store and is killed
// while it does, by TestMintBatchKilled: it prints "inserting" when
// MintBatch hands the signed batch to the store, and "done" when MintBatch
// returns.
//
//	mintkill STORE-URL BATCH N
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/oncelink/oncelink/internal/storeurl"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// announcing is a store that says when an Insert starts.
type announcing struct{ store.Store }

func (a announcing) Insert(ctx context.Context, recs []store.Record) error {
	fmt.Println("inserting")
	return a.Store.Insert(ctx, recs)
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mintkill:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: mintkill STORE-URL BATCH N")
	}
	n, err := strconv.Atoi(args[2])
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, closeStore, err := storeurl.Open(ctx, args[0], storeurl.Options{})
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
	if _, err := iss.MintBatch(ctx, args[1], reqs); err != nil {
		return err
	}
	fmt.Println("done")
	return nil
}
