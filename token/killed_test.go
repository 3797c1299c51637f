package token_test

import (
	"bufio"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oncelink/oncelink/internal/teststores"
)

// killedBatch is the size of the batch the child mints: MintBatch's
// largest.
const killedBatch = 100000

// kills is how many times each store sees its minting process killed.
const kills = 10

var (
	buildOnce sync.Once
	childBin  string
	buildErr  error
)

// mintkill builds testdata/mintkill once, without the race detector, so
// that a 100,000-link batch takes about as long as it does in production.
func mintkill(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "oncelink-mintkill")
		if err != nil {
			buildErr = err
			return
		}
		childBin = filepath.Join(dir, "mintkill")
		out, err := exec.Command("go", "build", "-o", childBin, "./testdata/mintkill").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./testdata/mintkill: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return childBin
}

// mintChild runs the child for one batch and kills it with SIGKILL after
// delay from the moment MintBatch hands the batch to the store (never, when
// delay < 0). It returns how long the insert took, or ran before the kill.
func mintChild(t *testing.T, bin, url, batch string, delay time.Duration) time.Duration {
	t.Helper()
	cmd := exec.Command(bin, "mint", url, batch, fmt.Sprint(killedBatch))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "inserting" {
		cmd.Wait()
		t.Fatalf("the child did not start inserting: %q", stderr.String())
	}
	start := time.Now()
	if delay >= 0 {
		timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		defer timer.Stop()
	}
	for lines.Scan() {
	}
	err = cmd.Wait()
	took := time.Since(start)
	if delay < 0 && err != nil {
		t.Fatalf("the child failed: %v: %s", err, stderr.String())
	}
	return took
}

// TestMintBatchKilled kills a process in the middle of a 100,000-link
// MintBatch, at a random point of its insert, ten times on each durable
// store, and finds every batch whole or absent: 0 or 100,000 records, never
// a part, and an intact SQLite file.
func TestMintBatchKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: -short")
	}
	bin := mintkill(t)
	for _, b := range teststores.Durable() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			_, url := b.New(t)
			full := mintChild(t, bin, url, "whole", -1)
			batches := []string{"whole"}
			for i := 0; i < kills; i++ {
				batch := fmt.Sprintf("killed-%d", i)
				batches = append(batches, batch)
				delay := time.Duration(mrand.Int64N(int64(full)))
				ran := mintChild(t, bin, url, batch, delay)
				n := count(t, bin, url, batch)
				t.Logf("kill %d after %v of %v: %d records", i, ran.Round(time.Millisecond), full.Round(time.Millisecond), n)
				if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
					if res := child(t, bin, "integrity", path); res != "ok" {
						t.Fatalf("kill %d: integrity_check of %s: %s", i, path, res)
					}
				}
			}
			// Every batch is still whole or absent once every insert has
			// settled (a server may still commit the insert of a client it
			// saw die after it had sent everything).
			whole := 0
			for _, b := range batches {
				if count(t, bin, url, b) == killedBatch {
					whole++
				}
			}
			t.Logf("%d of %d batches whole", whole, len(batches))
		})
	}
}

// count returns the records of a batch, which must be all or none.
func count(t *testing.T, bin, url, batch string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(child(t, bin, "count", url, batch), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 && n != killedBatch {
		t.Fatalf("batch %s: %d of %d records", batch, n, killedBatch)
	}
	return n
}

// child runs the child program for a check and returns what it printed.
func child(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("mintkill %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}
