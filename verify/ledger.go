package verify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/token"
)

// refusal is one refusal to record.
type refusal struct {
	at     time.Time
	claims *token.Claims // nil when the link could not be authenticated
	pres   store.Presentation
	err    error
	// reason and detail override the ledger's reason ([Reason] of err)
	// and detail.
	reason store.Reason
	detail string
}

// refuse logs a refusal and records it in the ledger, once, through the
// verifier's queue of ledger writes ([ledgerQueue]), and returns the entry.
// Refusals of input that could not be authenticated are rate-limited in the
// ledger. Every text is bounded UTF-8 ([store.CleanText]), so that no
// byte a client sends can fail the write.
func (v *Verifier) refuse(ctx context.Context, r refusal) store.Event {
	reason := r.reason
	if reason == "" {
		reason = Reason(r.err)
	}
	ev := store.Event{At: r.at, Kind: store.EventRefused, Reason: string(reason), Detail: store.CleanText(r.detail, store.MaxDetailLen),
		Presentation: r.pres}
	attrs := []any{"reason", string(reason)}
	if r.detail != "" {
		attrs = append(attrs, "detail", r.detail)
	}
	if c := r.claims; c != nil {
		ev.TokenID, ev.Member, ev.Batch, ev.Purpose = c.ID, c.Member, c.Batch, c.Purpose
		attrs = append(attrs, "token", *c)
	} else if !v.limiter.allow(r.at) {
		v.cfg.logger.DebugContext(ctx, "oncelink: unauthenticated refusal not recorded (rate limit)", attrs...)
		return ev
	}
	level := slog.LevelInfo
	switch reason {
	case store.ReasonMismatch, store.ReasonSignature, store.ReasonForged, store.ReasonSecret, store.ReasonFrozen,
		store.ReasonUnavailable, store.ReasonClaims, store.ReasonThrottled:
		level = slog.LevelWarn
	}
	v.cfg.logger.Log(ctx, level, "oncelink: link refused", attrs...)
	wait(ctx, v.ledger.add(ev, reason == store.ReasonMismatch && ev.Detail == ""))
	return ev
}

// rateLimiter allows rate events per second, in one-second windows.
type rateLimiter struct {
	rate   int
	mu     sync.Mutex
	window int64
	n      int
}

func (l *rateLimiter) allow(now time.Time) bool {
	if l.rate <= 0 {
		return false
	}
	sec := now.Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	if sec != l.window {
		l.window, l.n = sec, 0
	}
	if l.n >= l.rate {
		return false
	}
	l.n++
	return true
}
