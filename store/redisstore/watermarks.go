package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/oncelink/oncelink/store"
)

// Watermark implements [store.Tokens]: one script call, one field written.
func (s *Store) Watermark(ctx context.Context, member string, before time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := store.ValidateWatermark(member, before); err != nil {
		return err
	}
	field, _ := markFields(member)
	v, err := watermarkScript.Run(ctx, s.c, []string{s.k.ctl}, field, fmtInt(store.UnixMicroCeil(before))).Result()
	return written("watermark", v, err)
}

// WatermarkNow implements [store.Tokens]: one script call draws the next
// number of the record sequence and raises the member's sequence mark to
// it. Scripts run one at a time, so every Insert that drew its number
// before is covered and every later one is not; a staged Insert draws its
// number when it commits.
func (s *Store) WatermarkNow(ctx context.Context, member string) (store.Mark, error) {
	if err := ctxErr(ctx); err != nil {
		return store.Mark{}, err
	}
	if err := store.ValidateWatermarkNow(member); err != nil {
		return store.Mark{}, err
	}
	at, seq := markFields(member)
	v, err := watermarkNowScript.Run(ctx, s.c, []string{s.k.ctl, s.k.rseq}, seq, at).Result()
	if err := written("watermark", v, err); err != nil {
		return store.Mark{}, err
	}
	res, _ := v.([]interface{})
	if len(res) != 2 {
		return store.Mark{}, unavailable("watermark", errors.New("malformed reply"))
	}
	ctl := map[string]string{}
	for i, f := range []string{seq, at} {
		if str, _ := res[i].(string); str != "" {
			ctl[f] = str
		}
	}
	g, err := guardsOf(ctl)
	if err != nil {
		return store.Mark{}, err
	}
	return g.MarkOf(member), nil
}

// Marks implements [store.Tokens].
func (s *Store) Marks(ctx context.Context) ([]store.Mark, error) {
	g, err := s.control(ctx)
	if err != nil {
		return nil, err
	}
	return g.Marks(), nil
}
