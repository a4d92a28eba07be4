package tenancy

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Conversations (sessions): an app's own id for one end user's conversation
// with one agent. A session is one item, bounded by design: at most
// max_history_turns turns and at most MaxSessionBytes of turn text (the
// oldest turns drop first), each stored answer at most MaxStoredAnswerBytes.
const (
	DefaultMaxHistoryTurns = 20
	MaxHistoryTurnsLimit   = 100
	DefaultSessionTTLDays  = 30
	MaxSessionTTLDays      = 3650
	// MaxStoredAnswerBytes bounds one stored answer; a longer answer is kept
	// truncated (Turn.Truncated) and sent back to the model as kept.
	MaxStoredAnswerBytes = 64 << 10
	// TurnOverheadBytes is what a turn's item attributes besides its two
	// texts may take (names, numbers, call id, time): about 150 bytes.
	TurnOverheadBytes = 256
	// MaxSessionBytes bounds the turns of one session item: with the other
	// attributes (ids, counters, times: under 1 KB) the item stays far
	// below DynamoDB's 400 KB limit. One turn is at most MaxQueryBytes +
	// MaxStoredAnswerBytes + TurnOverheadBytes (96.25 KiB), so the newest
	// turn always fits.
	MaxSessionBytes = 256 << 10
	// HistoryMessageOverheadTokens is added to the input bound per history
	// message (role and separators).
	HistoryMessageOverheadTokens = 8
)

// SessionIDPattern is the form of a session id.
const SessionIDPattern = `^[A-Za-z0-9_.:@-]{1,128}$`

var sessionPattern = lazyRegexp(SessionIDPattern)

// CheckSessionID validates an app's session id.
func CheckSessionID(id string) error {
	if !sessionPattern().MatchString(id) {
		return Validationf("session_id must match ^[A-Za-z0-9_.:@-]{1,128}$")
	}
	return nil
}

// SessionKey names one session: its tenant, agent (short id) and id.
type SessionKey struct {
	TenantID, AgentID, SessionID string
}

// Turn is one answered call of a session.
type Turn struct {
	Query     string    `json:"query"`
	Answer    string    `json:"answer"`
	Truncated bool      `json:"answer_truncated,omitempty"`
	Tokens    Tokens    `json:"usage"`
	Cost      Money     `json:"cost_usd"`
	CallID    string    `json:"call_id"`
	At        time.Time `json:"at"`
}

// Bytes is what a turn counts against MaxSessionBytes.
func (t Turn) Bytes() int { return len(t.Query) + len(t.Answer) + TurnOverheadBytes }

// Session is a conversation as stored. Version is 0 for a session never
// stored; every write increments it (the condition of the next write).
type Session struct {
	SessionKey
	Turns      []Turn
	TotalTurns int64 // turns ever appended (dropped ones included)
	Cost       Money // cost of every turn ever appended
	CreatedAt  time.Time
	LastAt     time.Time
	ExpiresAt  time.Time
	Version    int64
	// TTLDays is the tenant's session_ttl_days when the session was read.
	TTLDays int
}

// Live reports whether the session exists and has not expired at now
// (DynamoDB's TTL deletes expired items late, so reads check the time).
func (s Session) Live(now time.Time) bool { return s.Version > 0 && now.Before(s.ExpiresAt) }

// WithTurn is the session after appending t at t.At: an expired session
// starts over; the oldest turns drop until at most maxTurns remain and their
// bytes fit MaxSessionBytes; the expiry moves to ttlDays after t.At.
func (s Session) WithTurn(t Turn, maxTurns, ttlDays int) Session {
	if !s.Live(t.At) {
		s = Session{SessionKey: s.SessionKey, Version: s.Version, CreatedAt: t.At, TTLDays: s.TTLDays}
	}
	if len(t.Answer) > MaxStoredAnswerBytes {
		t.Answer, t.Truncated = strings.ToValidUTF8(t.Answer[:MaxStoredAnswerBytes], ""), true
	}
	turns := append(slices.Clone(s.Turns), t)
	total := 0
	for _, x := range turns {
		total += x.Bytes()
	}
	for len(turns) > 0 && (len(turns) > maxTurns || total > MaxSessionBytes) {
		total -= turns[0].Bytes()
		turns = turns[1:]
	}
	s.Turns = turns
	s.TotalTurns++
	s.Cost += t.Cost
	s.LastAt = t.At
	s.ExpiresAt = t.At.Add(time.Duration(ttlDays) * 24 * time.Hour)
	s.Version++
	return s
}

// HistoryBytes is the UTF-8 size of the turns' texts.
func HistoryBytes(turns []Turn) int64 {
	var n int64
	for _, t := range turns {
		n += int64(len(t.Query) + len(t.Answer))
	}
	return n
}

// SessionSummary is one session in a listing.
type SessionSummary struct {
	SessionID  string    `json:"session_id"`
	Turns      int       `json:"turns"`
	TotalTurns int64     `json:"total_turns"`
	LastAt     time.Time `json:"last_at"`
	Cost       Money     `json:"cost_usd"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// SessionStore persists sessions on the same table as everything else.
type SessionStore interface {
	// GetSession reads a session (strongly consistent) with the tenant's
	// session_ttl_days in one request. A session never stored has Version
	// 0; an expired one is returned as stored (see Live). TenantNotFound if
	// the tenant does not exist.
	GetSession(ctx context.Context, k SessionKey) (Session, error)
	// AppendTurn writes base.WithTurn(...) on the condition that the stored
	// version is still base's; if another call appended in between, it
	// reads the session again and appends to that, so concurrent appends
	// all land. It returns the session as written.
	AppendTurn(ctx context.Context, base Session, t Turn, maxTurns int) (Session, error)
	// ListSessions pages through an agent's sessions in id order (expired
	// ones are skipped; a page may then be short); "" starts and ends.
	ListSessions(ctx context.Context, tenantID, agentID string, now time.Time, limit int, pageToken string) ([]SessionSummary, string, error)
	// DeleteSession deletes a session; SessionNotFound if there is none
	// (or it has expired).
	DeleteSession(ctx context.Context, k SessionKey, now time.Time) error
}

// GetSession returns a live session of an existing agent.
func (s *Service) GetSession(ctx context.Context, k SessionKey) (Session, error) {
	if err := s.checkSession(ctx, k); err != nil {
		return Session{}, err
	}
	sess, err := s.store.GetSession(ctx, k)
	if err != nil {
		return Session{}, err
	}
	if !sess.Live(s.clock.Now()) {
		return Session{}, SessionNotFound(k.SessionID, k.AgentID)
	}
	return sess, nil
}

// ListSessions pages through an agent's live sessions (1-100 per page,
// default 50).
func (s *Service) ListSessions(ctx context.Context, tenantID, agentID string, limit int, pageToken string) ([]SessionSummary, string, error) {
	switch {
	case limit == 0:
		limit = 50
	case limit < 1 || limit > 100:
		return nil, "", Validationf("limit must be between 1 and 100")
	}
	if _, err := s.GetAgent(ctx, tenantID, agentID); err != nil {
		return nil, "", err
	}
	return s.store.ListSessions(ctx, tenantID, agentID, s.clock.Now(), limit, pageToken)
}

// DeleteSession deletes a session of an existing agent.
func (s *Service) DeleteSession(ctx context.Context, k SessionKey) error {
	if err := s.checkSession(ctx, k); err != nil {
		return err
	}
	return s.store.DeleteSession(ctx, k, s.clock.Now())
}

func (s *Service) checkSession(ctx context.Context, k SessionKey) error {
	if err := s.checkIDs(k.TenantID, k.AgentID); err != nil {
		return err
	}
	if err := CheckSessionID(k.SessionID); err != nil {
		return err
	}
	_, err := s.GetAgent(ctx, k.TenantID, k.AgentID)
	return err
}
