package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// admits is the condition the DynamoDB store writes as a condition
// expression, evaluated on the record inside the transaction.
func admits(r *tenantRec, a tenancy.Admission, plan tenancy.AdmitPlan) bool {
	if !r.Active || r.Day != plan.Day || r.Budget < int64(a.Reserve) || (r.MCapped && r.MBudget < int64(a.Reserve)) ||
		!tenancy.Allows(r.AllowedModels, a.Model) {
		return false
	}
	for _, tool := range a.Tools {
		if !tenancy.Allows(r.AllowedTools, tool) {
			return false
		}
	}
	if plan.NewHour {
		return r.Hour < plan.Hour && r.MaxQPH >= 1
	}
	return r.Hour == plan.Hour && r.HourQueries < int64(r.MaxQPH)
}

// Admit implements tenancy.Store in one transaction: when the condition
// fails, the domain's ExplainRefusal says why (refuse, roll the stale
// window over first, or count in another hour or day), as it does for the
// DynamoDB store, here on the record the transaction holds.
func (s *Store) Admit(ctx context.Context, a tenancy.Admission) (tenancy.Ticket, error) {
	var ticket tenancy.Ticket
	var refusal error
	err := s.update(ctx, func(tx *bolt.Tx) error {
		refusal = nil
		var r tenantRec
		found, err := get(tx.Bucket(bTenants), []byte(a.TenantID), &r)
		if err != nil {
			return err
		}
		cal := tenancy.Calendar{Zone: tenancy.DefaultTimezone}
		if found {
			cal = r.tenant().Calendar()
		}
		plan := tenancy.PlanFor(a.Now, cal)
		for attempt := 0; attempt < 8; attempt++ {
			if found && admits(&r, a, plan) {
				if plan.NewHour {
					r.Hour, r.HourQueries = plan.Hour, 1
				} else {
					r.HourQueries++
				}
				r.W.Reserved += int64(a.Reserve)
				r.Budget -= int64(a.Reserve)
				r.MReserved += int64(a.Reserve)
				r.MBudget -= int64(a.Reserve)
				ticket = tenancy.Ticket{CallID: a.CallID, TenantID: a.TenantID, AgentID: a.AgentID, Model: a.Model,
					Reserve: a.Reserve, Day: plan.Day, AdmittedAt: a.Now}
				calls := tx.Bucket(bCalls)
				key := k2(a.TenantID, a.CallID)
				if calls.Get(key) != nil {
					return fmt.Errorf("call id %s collided", a.CallID)
				}
				if err := put(calls, key, newCallRec(ticket)); err != nil {
					return err
				}
				return writeTenant(tx, r)
			}
			var cur *tenancy.Tenant
			if found {
				t := r.tenant()
				cur = &t
			}
			verdict, next, rerr := tenancy.ExplainRefusal(cur, a, plan)
			switch verdict {
			case tenancy.Refuse:
				// A refusal at the wall records the period's thresholds not
				// alerted yet (tenancy.WallAlerts), in this transaction: it
				// commits, and the refusal is returned after it.
				if cur != nil {
					if alerts, as := tenancy.WallAlerts(*cur, rerr, a.Now); len(alerts) > 0 {
						r.ADPct, r.AMPct = as.DayPct, as.MonthPct
						for _, al := range alerts {
							if err := putAlert(tx, al, r.Day); err != nil {
								return err
							}
						}
						if err := writeTenant(tx, r); err != nil {
							return err
						}
						var e *tenancy.Error
						errors.As(rerr, &e)
						e.Alerts = alerts
						refusal = rerr
						return nil
					}
				}
				return rerr
			case tenancy.Rollover:
				if _, err := rollover(tx, &r, a.Now, false); err != nil {
					return err
				}
			case tenancy.Retry:
				if next == plan {
					return fmt.Errorf("admit condition and ExplainRefusal disagree for tenant %s", a.TenantID)
				}
				plan = next
			}
		}
		return fmt.Errorf("admit did not settle on a plan for tenant %s", a.TenantID)
	})
	if err != nil {
		return tenancy.Ticket{}, err
	}
	if refusal != nil {
		return tenancy.Ticket{}, refusal
	}
	return ticket, nil
}

// putAlert records an alert of the period of day (the day, or its month).
func putAlert(tx *bolt.Tx, a tenancy.Alert, day string) error {
	periodKey := day
	if a.Period == tenancy.PeriodMonth {
		periodKey = tenancy.MonthKey(day)
	}
	return put(tx.Bucket(bAlerts), alertKey(a, periodKey), alertRec{TenantID: a.TenantID, Period: a.Period,
		Threshold: a.ThresholdPct, Spent: int64(a.Spent), Cap: int64(a.Cap), At: a.At.UTC()})
}

// Settle implements tenancy.Store: the settlement goes to the live window
// when the call's day is still live, else to that day's history; deleting
// the call record in the same transaction makes a second settle a no-op.
// The alerts a live settlement raises (tenancy.SettleAlerts on the tenant as
// the transaction holds it) are recorded in the same transaction, so each
// threshold of each period is recorded exactly once.
func (s *Store) Settle(ctx context.Context, t tenancy.Ticket, st tenancy.Settlement) ([]tenancy.Alert, error) {
	var alerts []tenancy.Alert
	err := s.update(ctx, func(tx *bolt.Tx) error {
		alerts = nil
		calls := tx.Bucket(bCalls)
		key := k2(t.TenantID, t.CallID)
		if calls.Get(key) == nil {
			return nil // already settled
		}
		if err := calls.Delete(key); err != nil {
			return err
		}
		r, err := readTenant(tx, t.TenantID)
		if err != nil {
			return err
		}
		d := settlementDelta(t, st)
		if err := addAgentDay(tx, t, d); err != nil {
			return err
		}
		if r.Day == t.Day {
			var as tenancy.AlertState
			alerts, as = tenancy.SettleAlerts(r.tenant(), st.Cost, st.At)
			r.ADPct, r.AMPct = as.DayPct, as.MonthPct
			for _, a := range alerts {
				if err := putAlert(tx, a, t.Day); err != nil {
					return err
				}
			}
			r.W.add(d)
			r.Budget += int64(t.Reserve - st.Cost)
		} else if err := addHistory(tx, t.TenantID, t.Day, d); err != nil {
			return err
		}
		// The month's counters hold the call while the window is in the
		// call's month; a rollover into a new month reset them.
		if r.MKey == tenancy.MonthKey(t.Day) {
			r.MReserved -= int64(t.Reserve)
			r.MBudget += int64(t.Reserve - st.Cost)
			r.MSpent += int64(st.Cost)
		}
		if !st.Failed {
			r.TotalQueries++
		}
		r.LifetimeCost += int64(st.Cost)
		return writeTenant(tx, r)
	})
	if err != nil {
		return nil, err
	}
	return alerts, nil
}

// Alerts implements tenancy.Store: the newest first, at most limit.
func (s *Store) Alerts(ctx context.Context, tenantID string, limit int) ([]tenancy.Alert, error) {
	alerts := []tenancy.Alert{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var keys [][]byte
		p := prefix(tenantID)
		err := scanPrefix(tx.Bucket(bAlerts), p, func(k, _ []byte) error {
			keys = append(keys, k)
			return nil
		})
		if err != nil {
			return err
		}
		b := tx.Bucket(bAlerts)
		for i := len(keys) - 1; i >= 0 && len(alerts) < limit; i-- {
			var r alertRec
			if err := json.Unmarshal(b.Get(keys[i]), &r); err != nil {
				return err
			}
			alerts = append(alerts, r.alert())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return alerts, nil
}

func addHistory(tx *bolt.Tx, tenantID, day string, d dayRec) error {
	h := tx.Bucket(bHistory)
	key := k2(tenantID, day)
	var cur dayRec
	if _, err := get(h, key, &cur); err != nil {
		return err
	}
	cur.add(d)
	return put(h, key, cur)
}

// agentDayKey keys an agent's counters of a day: a tenant's agent days sort
// by date, then agent.
func agentDayKey(tenantID, day, agentID string) []byte {
	return []byte(tenantID + "/" + day + "/" + agentID)
}

// addAgentDay adds a settlement's per-model amounts to the counters of the
// ticket's agent on the ticket's day (nothing for a call that failed at no
// cost), in the settle's transaction.
func addAgentDay(tx *bolt.Tx, t tenancy.Ticket, d dayRec) error {
	u, ok := d.ByModel[t.Model]
	if !ok || u == (modelRec{}) || t.AgentID == "" {
		return nil
	}
	b := tx.Bucket(bAgentDay)
	key := agentDayKey(t.TenantID, t.Day, t.AgentID)
	var cur modelRec
	if _, err := get(b, key, &cur); err != nil {
		return err
	}
	return put(b, key, modelRec{Queries: cur.Queries + u.Queries, In: cur.In + u.In, Out: cur.Out + u.Out,
		CR: cur.CR + u.CR, CW: cur.CW + u.CW, Cost: cur.Cost + u.Cost})
}

// AgentDays implements tenancy.Store: the agent days of [from, to] from
// one snapshot, in key (date, agent) order.
func (s *Store) AgentDays(ctx context.Context, tenantID, from, to string) ([]tenancy.AgentDay, error) {
	out := []tenancy.AgentDay{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bAgentDay).Cursor()
		first, last := []byte(tenantID+"/"+from+"/"), []byte(tenantID+"/"+to+"/~")
		for k, v := c.Seek(first); k != nil && bytes.Compare(k, last) <= 0; k, v = c.Next() {
			date, agent, ok := strings.Cut(string(k[len(tenantID)+1:]), "/")
			if !ok {
				continue
			}
			var u modelRec
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			out = append(out, tenancy.AgentDay{Date: date, AgentID: agent, Usage: u.usage()})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecordUnsettled implements tenancy.Store.
func (s *Store) RecordUnsettled(ctx context.Context, t tenancy.Ticket, st tenancy.Settlement) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		calls := tx.Bucket(bCalls)
		key := k2(t.TenantID, t.CallID)
		var c callRec
		ok, err := get(calls, key, &c)
		if err != nil || !ok {
			return err // not found: settled meanwhile
		}
		tk := st.Tokens
		c.Recorded = &settleRec{Failed: st.Failed, In: tk.Input, Out: tk.Output, CR: tk.CacheRead, CW: tk.CacheWrite,
			Cost: int64(st.Cost), PriceVersion: st.PriceVersion}
		return put(calls, key, c)
	})
}

// OpenCalls implements tenancy.Store.
func (s *Store) OpenCalls(ctx context.Context, tenantID string) ([]tenancy.OpenCall, error) {
	calls := []tenancy.OpenCall{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return scanPrefix(tx.Bucket(bCalls), prefix(tenantID), func(_, v []byte) error {
			var c callRec
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			calls = append(calls, c.open())
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return calls, nil
}

// rollover archives the live window of r into its day's history and starts
// the window of now's day (or, for a manual reset of today's window, zeroes
// today's settled counters and keeps the in-flight reservations), writing
// r back. Scheduled rollovers of today's window do nothing.
func rollover(tx *bolt.Tx, r *tenantRec, now time.Time, manual bool) (bool, error) {
	today := r.tenant().Calendar().Day(now)
	stale := r.Day < today
	if !stale && !manual {
		return false, nil
	}
	keepReserved := !stale
	archive := r.W
	if keepReserved {
		archive.Reserved = 0
	}
	if !archive.empty() {
		if err := addHistory(tx, r.ID, r.Day, archive); err != nil {
			return false, err
		}
	}
	next := dayRec{}
	budget := r.MaxCost
	if stale {
		r.Day = today
	} else {
		next.Reserved = r.W.Reserved
		budget -= r.W.Reserved
	}
	r.W, r.Budget = next, budget
	// Today's alerts start again on a new day; a manual reset keeps the
	// thresholds already sent.
	if stale {
		r.ADPct = 0
	}
	if month := tenancy.MonthKey(r.Day); month != r.MKey {
		r.AMPct = 0
		// A new month: its budget is whole; calls still in flight were the
		// last month's and settle into its history day.
		r.MKey, r.MSpent, r.MReserved, r.MBudget = month, 0, 0, r.MaxCostMonth
	}
	return true, writeTenant(tx, *r)
}

// Rollover implements tenancy.Store.
func (s *Store) Rollover(ctx context.Context, tenantID string, now time.Time, manual bool) (bool, error) {
	var archived bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		r, err := readTenant(tx, tenantID)
		if err != nil {
			return err
		}
		archived, err = rollover(tx, &r, now, manual)
		return err
	})
	return archived, err
}

// History implements tenancy.Store: the archived days in [from, to] and the
// live window, from one snapshot.
func (s *Store) History(ctx context.Context, tenantID, from, to string) ([]tenancy.DayUsage, error) {
	days := map[string]tenancy.DayUsage{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, err := readTenant(tx, tenantID)
		if err != nil {
			return err
		}
		c := tx.Bucket(bHistory).Cursor()
		last := string(k2(tenantID, to))
		for k, v := c.Seek(k2(tenantID, from)); k != nil && string(k) <= last; k, v = c.Next() {
			var d dayRec
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			date := string(k[len(tenantID)+1:])
			days[date] = tenancy.MergeDays(days[date], d.day(date))
		}
		if r.Day >= from && r.Day <= to {
			w := tenancy.WindowDay(r.tenant().Usage)
			days[w.Date] = tenancy.MergeDays(days[w.Date], w)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]tenancy.DayUsage, 0, len(days))
	for date, d := range days {
		d.Date = date
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	return out, nil
}
