package boltstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// Sessions are records under sessions <t>/<agent>#<session>: agent ids
// contain no "#" and session ids neither, so an agent's prefix never matches
// another agent's sessions, and the keys sort by session id within an agent
// like the DynamoDB store's sort keys. The whole bounded transcript is one
// record (see tenancy.MaxSessionBytes).

func sessionKey(k tenancy.SessionKey) []byte { return k2(k.TenantID, k.AgentID+"#"+k.SessionID) }

func sessionPrefix(tenantID, agentID string) []byte { return k2(tenantID, agentID+"#") }

type turnRec struct {
	Query     string    `json:"q"`
	Answer    string    `json:"a"`
	Truncated bool      `json:"tr,omitempty"`
	In        int64     `json:"in"`
	Out       int64     `json:"out"`
	CR        int64     `json:"cr,omitempty"`
	CW        int64     `json:"cw,omitempty"`
	Cost      int64     `json:"c"`
	CallID    string    `json:"id"`
	At        time.Time `json:"at"`
}

type sessionRec struct {
	TenantID   string    `json:"tenant_id"`
	AgentID    string    `json:"agent_id"`
	SessionID  string    `json:"session_id"`
	Turns      []turnRec `json:"turns,omitempty"`
	TotalTurns int64     `json:"total_turns"`
	Cost       int64     `json:"cost"`
	CreatedAt  time.Time `json:"created_at"`
	LastAt     time.Time `json:"last_at"`
	ExpiresAt  time.Time `json:"expires"`
	Version    int64     `json:"version"`
}

func newSessionRec(s tenancy.Session) sessionRec {
	r := sessionRec{TenantID: s.TenantID, AgentID: s.AgentID, SessionID: s.SessionID, TotalTurns: s.TotalTurns,
		Cost: int64(s.Cost), CreatedAt: s.CreatedAt.UTC(), LastAt: s.LastAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(), Version: s.Version}
	for _, t := range s.Turns {
		r.Turns = append(r.Turns, turnRec{Query: t.Query, Answer: t.Answer, Truncated: t.Truncated,
			In: t.Tokens.Input, Out: t.Tokens.Output, CR: t.Tokens.CacheRead, CW: t.Tokens.CacheWrite,
			Cost: int64(t.Cost), CallID: t.CallID, At: t.At.UTC()})
	}
	return r
}

func (r sessionRec) session() tenancy.Session {
	s := tenancy.Session{SessionKey: tenancy.SessionKey{TenantID: r.TenantID, AgentID: r.AgentID, SessionID: r.SessionID},
		Turns: make([]tenancy.Turn, 0, len(r.Turns)), TotalTurns: r.TotalTurns, Cost: tenancy.Money(r.Cost),
		CreatedAt: r.CreatedAt, LastAt: r.LastAt, ExpiresAt: r.ExpiresAt, Version: r.Version}
	for _, t := range r.Turns {
		s.Turns = append(s.Turns, tenancy.Turn{Query: t.Query, Answer: t.Answer, Truncated: t.Truncated,
			Tokens: tenancy.Tokens{Input: t.In, Output: t.Out, CacheRead: t.CR, CacheWrite: t.CW},
			Cost:   tenancy.Money(t.Cost), CallID: t.CallID, At: t.At})
	}
	return s
}

// readSession reads a session with the tenant's session_ttl_days; Version 0
// when it was never stored; TenantNotFound without the tenant.
func readSession(tx *bolt.Tx, k tenancy.SessionKey) (tenancy.Session, error) {
	t, err := readTenant(tx, k.TenantID)
	if err != nil {
		return tenancy.Session{}, err
	}
	sess := tenancy.Session{SessionKey: k}
	var r sessionRec
	ok, err := get(tx.Bucket(bSessions), sessionKey(k), &r)
	if err != nil {
		return tenancy.Session{}, err
	}
	if ok {
		sess = r.session()
	}
	sess.TTLDays = t.tenant().SessionTTLDays
	return sess, nil
}

// GetSession implements tenancy.SessionStore: the session and the tenant in
// one read-only transaction.
func (s *Store) GetSession(ctx context.Context, k tenancy.SessionKey) (tenancy.Session, error) {
	var sess tenancy.Session
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		sess, err = readSession(tx, k)
		return err
	})
	if err != nil {
		return tenancy.Session{}, err
	}
	return sess, nil
}

// AppendTurn implements tenancy.SessionStore. The DynamoDB store conditions
// its write on the version read and re-reads on conflict; here the read and
// the write are one read-write transaction (bbolt runs one at a time), so
// the turn is appended to the session as stored when it commits: if another
// call appended since base was read, base is replaced by the stored session
// (with the tenant's current session_ttl_days), as the DynamoDB store's
// retry does.
func (s *Store) AppendTurn(ctx context.Context, base tenancy.Session, t tenancy.Turn, maxTurns int) (tenancy.Session, error) {
	var next tenancy.Session
	err := s.update(ctx, func(tx *bolt.Tx) error {
		cur := base
		var r sessionRec
		ok, err := get(tx.Bucket(bSessions), sessionKey(base.SessionKey), &r)
		if err != nil {
			return err
		}
		stored := int64(0)
		if ok {
			stored = r.Version
		}
		if stored != base.Version {
			if cur, err = readSession(tx, base.SessionKey); err != nil {
				return err
			}
		}
		next = cur.WithTurn(t, maxTurns, cur.TTLDays)
		return put(tx.Bucket(bSessions), sessionKey(next.SessionKey), newSessionRec(next))
	})
	if err != nil {
		return tenancy.Session{}, err
	}
	return next, nil
}

// ListSessions implements tenancy.SessionStore: the agent's sessions in id
// order from a cursor (the page token is the last id of the previous page);
// expired sessions are skipped but count toward the page, like the DynamoDB
// store's Query with its Limit.
func (s *Store) ListSessions(ctx context.Context, tenantID, agentID string, now time.Time, limit int, pageToken string) ([]tenancy.SessionSummary, string, error) {
	p := sessionPrefix(tenantID, agentID)
	start := p
	after := ""
	if pageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil || tenancy.CheckSessionID(string(b)) != nil {
			return nil, "", tenancy.Validationf("next_token is not a valid page token")
		}
		after = string(b)
		start = sessionKey(tenancy.SessionKey{TenantID: tenantID, AgentID: agentID, SessionID: after})
	}
	list := []tenancy.SessionSummary{}
	next := ""
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bSessions).Cursor()
		k, v := c.Seek(start)
		if after != "" && k != nil && string(k) == string(start) {
			k, v = c.Next()
		}
		seen, last := 0, ""
		for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if seen == limit {
				next = base64.RawURLEncoding.EncodeToString([]byte(last))
				return nil
			}
			var r sessionRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decoding %s: %w", k, err)
			}
			seen, last = seen+1, r.SessionID
			if !now.Before(r.ExpiresAt) {
				continue
			}
			list = append(list, tenancy.SessionSummary{SessionID: r.SessionID, Turns: len(r.Turns), TotalTurns: r.TotalTurns,
				LastAt: r.LastAt, Cost: tenancy.Money(r.Cost), ExpiresAt: r.ExpiresAt})
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// DeleteSession implements tenancy.SessionStore: SessionNotFound if there
// is none or it had expired at now (it is deleted either way).
func (s *Store) DeleteSession(ctx context.Context, k tenancy.SessionKey, now time.Time) error {
	expired := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bSessions)
		var r sessionRec
		ok, err := get(b, sessionKey(k), &r)
		if err != nil {
			return err
		}
		if !ok {
			return tenancy.SessionNotFound(k.SessionID, k.AgentID)
		}
		// An expired session is deleted too, but it no longer existed for
		// the API: reported after the commit (an error would roll back).
		expired = !now.Before(r.ExpiresAt)
		return b.Delete(sessionKey(k))
	})
	if err != nil {
		return err
	}
	if expired {
		return tenancy.SessionNotFound(k.SessionID, k.AgentID)
	}
	return nil
}
