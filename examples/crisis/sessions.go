package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// sessions is the member site's session table: a login opens a session as
// the link's member; the operator's revocation ends them through
// [admin.SessionRevoker].
type sessions struct {
	mu    sync.Mutex
	now   func() time.Time
	byID  map[string]*session
	next  int
	ended int
}

type session struct {
	member string // logged in as
	person int    // who clicked
	opened time.Time
	ended  time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, byID: map[string]*session{}}
}

// reference returns a new session reference, for the verifier to record.
func (s *sessions) reference(day string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	return fmt.Sprintf("%s-s%05d", day, s.next)
}

// open records the session a login opened.
func (s *sessions) open(id, member string, person int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[id] = &session{member: member, person: person, opened: s.now()}
}

// RevokeSessions ends the sessions it is handed that are open, and counts
// them; a reference it does not know, or a session already ended, ends
// nothing.
func (s *sessions) RevokeSessions(_ context.Context, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if ss, ok := s.byID[id]; ok && ss.ended.IsZero() {
			ss.ended = s.now()
			s.ended++
		}
	}
	return nil
}

// counts returns how many sessions were opened, how many are open now,
// and how many were ended.
func (s *sessions) counts() (opened, open, ended int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.byID {
		if ss.ended.IsZero() {
			open++
		}
	}
	return len(s.byID), open, s.ended
}
