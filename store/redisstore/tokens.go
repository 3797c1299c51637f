package redisstore

import (
	"context"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Get implements [store.Tokens].
func (s *Store) Get(ctx context.Context, id string) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	if !store.ValidID(id) {
		return store.Record{}, store.ErrNotFound
	}
	v, err := s.c.HMGet(ctx, s.k.record(id), recordFields...).Result()
	if err != nil {
		return store.Record{}, unavailable("get", err)
	}
	if len(v) == len(recordFields) && v[fieldStatus] == nil {
		return store.Record{}, store.ErrNotFound
	}
	r, err := record(id, v)
	if err != nil {
		return store.Record{}, unavailable("get", err)
	}
	seen, err := s.resolve(ctx, []staged{{&r, stagedOf(v)}})
	if err != nil {
		return store.Record{}, err
	}
	if len(seen) == 0 {
		return store.Record{}, store.ErrNotFound
	}
	return r, nil
}

// Peek implements [store.Tokens]: one read-only script call for an
// unconfirmed request; a confirmed or mismatched one runs the consume
// script without consuming, as a refused Consume does.
func (s *Store) Peek(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	if err := req.Validate(); err != nil {
		return store.Record{}, err
	}
	if !store.ValidID(req.ID) {
		return store.Record{}, store.ErrNotFound
	}
	if err := s.server.ok(ctx, s.c); err != nil {
		return store.Record{}, err
	}
	if req.Confirmation != store.Unconfirmed {
		return s.present(ctx, &req, false)
	}
	v, err := peekScript.RunRO(ctx, s.c, []string{s.k.record(req.ID), s.k.ctl, s.k.xc},
		req.SecretHash[:], req.State, fmtInt(store.UnixMicro(req.At)), req.Member, req.Purpose, req.Batch).Result()
	if err != nil {
		return store.Record{}, unavailable("peek", err)
	}
	return outcome("peek", req.ID, v)
}

// Consume implements [store.Tokens]: one script call checks the record,
// counts a mismatch, marks it consumed and writes the consumed ledger
// entry, atomically.
func (s *Store) Consume(ctx context.Context, req store.ConsumeRequest) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	if err := req.Validate(); err != nil {
		return store.Record{}, err
	}
	if !store.ValidID(req.ID) {
		return store.Record{}, store.ErrNotFound
	}
	if err := s.server.ok(ctx, s.c); err != nil {
		return store.Record{}, err
	}
	return s.present(ctx, &req, true)
}

// confirmation is the script's code of a confirmation.
var confirmation = [...]string{store.Unconfirmed: "0", store.Confirmed: "1", store.Mismatched: "2"}

// present runs the consume script, consuming or not. The caller has
// checked the request and the server's settings.
func (s *Store) present(ctx context.Context, req *store.ConsumeRequest, consume bool) (store.Record, error) {
	at := store.Micro(req.At)
	atS := fmtInt(store.UnixMicro(at))
	p := req.Presentation
	mode, op := "p", "peek"
	if consume {
		mode, op = "c", "consume"
	}
	head := enc(enc(enc(make([]byte, 0, 64), string(store.EventConsumed)), ""), req.ID)
	tail := enc(enc(enc(enc(make([]byte, 0, 32+len(p.Identity)+len(p.IP)+len(p.UserAgent)+len(p.Session)),
		p.Identity), p.IP), p.UserAgent), p.Session)
	args := make([]interface{}, 0, 25)
	args = append(args, s.k.tag, req.SecretHash[:], req.State, atS, consumedEntry(store.UnixMicro(at), req.ID),
		head, tail, req.Member, req.Purpose, req.Batch, confirmation[req.Confirmation], req.MaxFailures, mode,
		recordFields[fieldStatus], statusValue(store.StatusConsumed), recordFields[fieldConsumed], atS)
	for _, f := range consumerFields(&p) {
		if f[1] != "" {
			args = append(args, f[0], f[1])
		}
	}
	keys := []string{s.k.record(req.ID), s.k.ctl, s.k.xc, s.k.ev, s.k.led}
	var v interface{}
	var acks int64
	var err error
	if consume && s.acks > 0 {
		v, acks, err = s.runAcked(ctx, keys, args)
	} else {
		v, err = consumeScript.Run(ctx, s.c, keys, args...).Result()
	}
	if err != nil {
		return store.Record{}, unavailable(op, err)
	}
	r, err := outcome(op, req.ID, v)
	if err != nil || !consume {
		return r, err
	}
	if err := s.acked(acks); err != nil {
		return store.Record{}, err
	}
	r.Status, r.ConsumedAt, r.Consumer = store.StatusConsumed, at, p
	return r, nil
}

// Fail implements [store.Tokens]: one script call.
func (s *Store) Fail(ctx context.Context, id string, at time.Time, max int) (store.Record, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Record{}, err
	}
	if !store.ValidID(id) {
		return store.Record{}, store.ErrNotFound
	}
	v, err := failScript.Run(ctx, s.c, []string{s.k.record(id), s.k.xc}, fmtInt(store.UnixMicro(at)), max).Result()
	if err != nil {
		return store.Record{}, unavailable("fail", err)
	}
	return outcome("fail", id, v)
}
