package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/openclaw/tenancy/internal/backup"
	"github.com/openclaw/tenancy/internal/tenancy"
)

var _ backup.Store = (*Store)(nil)

func toCounters(d dayRec) backup.Counters {
	c := backup.Counters{Queries: d.Queries, FailedCalls: d.Failed, SpentNanos: d.Spent, ReservedNanos: d.Reserved, OverageNanos: d.Overage,
		InputTokens: d.In, OutputTokens: d.Out, CacheRead: d.CR, CacheWrite: d.CW,
		ByModel: map[string]backup.ModelCounters{}, PriceVersions: map[string]int64{}}
	for m, u := range d.ByModel {
		if u != (modelRec{}) {
			c.ByModel[m] = backup.ModelCounters{Queries: u.Queries, InputTokens: u.In, OutputTokens: u.Out,
				CacheRead: u.CR, CacheWrite: u.CW, CostNanos: u.Cost}
		}
	}
	for v, n := range d.Prices {
		if n != 0 {
			c.PriceVersions[v] = n
		}
	}
	return c
}

func fromCounters(c backup.Counters) dayRec {
	d := dayRec{Queries: c.Queries, Failed: c.FailedCalls, Spent: c.SpentNanos, Reserved: c.ReservedNanos, Overage: c.OverageNanos,
		In: c.InputTokens, Out: c.OutputTokens, CR: c.CacheRead, CW: c.CacheWrite}
	for m, u := range c.ByModel {
		if d.ByModel == nil {
			d.ByModel = map[string]modelRec{}
		}
		d.ByModel[m] = modelRec{Queries: u.Queries, In: u.InputTokens, Out: u.OutputTokens, CR: u.CacheRead,
			CW: u.CacheWrite, Cost: u.CostNanos}
	}
	for v, n := range c.PriceVersions {
		if d.Prices == nil {
			d.Prices = map[string]int64{}
		}
		d.Prices[v] = n
	}
	return d
}

// Export implements backup.Store from one consistent snapshot.
func (s *Store) Export(ctx context.Context, emit func(backup.Record) error) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bTenants).ForEach(func(id, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var r tenantRec
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			t := r.tenant()
			md := t.Metadata
			var from *time.Time
			if t.PrevTimezone != "" {
				from = &t.TimezoneFrom
			}
			if err := emit(backup.Record{Kind: backup.KindTenant, Tenant: &backup.Tenant{ID: r.ID, Name: r.Name,
				Timezone: t.Timezone, PrevTimezone: t.PrevTimezone, TimezoneFrom: from,
				MaxAgents: r.MaxAgents, MaxQueriesPerHour: r.MaxQPH, MaxCostNanos: r.MaxCost,
				AllowedModels: sortedSet(r.AllowedModels), AllowedTools: sortedSet(r.AllowedTools), Metadata: md,
				Active: r.Active, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, AgentCount: r.AgentCount,
				TotalQueries: r.TotalQueries, LifetimeCostNanos: r.LifetimeCost, Day: r.Day, Hour: r.Hour,
				HourQueries: r.HourQueries, BudgetNanos: r.Budget, Window: toCounters(r.W),
				MaxCostNanosMonth: monthCap(r.MCapped, r.MaxCostMonth), Month: r.MKey, MonthSpentNanos: r.MSpent,
				MonthReserved: r.MReserved, MonthBudgetNanos: r.MBudget,
				OpenClawGatewayURL: r.GatewayURL, OpenClawTokenSecret: r.GatewaySecret,
				AlertThresholdsPct: t.AlertThresholdsPct, DayAlertPct: r.ADPct, MonthAlertPct: r.AMPct,
				SessionTTLDays: t.SessionTTLDays}}); err != nil {
				return err
			}
			p := prefix(string(id))
			err := scanPrefix(tx.Bucket(bAgents), p, func(_, v []byte) error {
				var a agentRec
				if err := json.Unmarshal(v, &a); err != nil {
					return err
				}
				turns := a.agent().MaxHistoryTurns
				return emit(backup.Record{Kind: backup.KindAgent, Agent: &backup.Agent{TenantID: a.TenantID, AgentID: a.AgentID,
					Name: a.Name, SystemPrompt: a.SystemPrompt, LLMModel: a.LLMModel, Tools: nonNil(a.Tools),
					MaxOutputTokens: a.MaxOutputTokens, MaxHistoryTurns: &turns, CreatedAt: a.CreatedAt}})
			})
			if err != nil {
				return err
			}
			err = scanPrefix(tx.Bucket(bKeyIDs), p, func(_, v []byte) error {
				var k keyRec
				if err := json.Unmarshal(v, &k); err != nil {
					return err
				}
				return emit(backup.Record{Kind: backup.KindKey, Key: &backup.Key{TenantID: k.TenantID, KeyID: k.KeyID,
					Hash: k.Hash, CreatedAt: k.CreatedAt}})
			})
			if err != nil {
				return err
			}
			err = scanPrefix(tx.Bucket(bCalls), p, func(_, v []byte) error {
				var c callRec
				if err := json.Unmarshal(v, &c); err != nil {
					return err
				}
				bc := &backup.Call{TenantID: c.TenantID, CallID: c.CallID, AgentID: c.AgentID, Model: c.Model,
					ReserveNanos: c.Reserve, Day: c.Day, AdmittedAt: c.AdmittedAt}
				if st := c.Recorded; st != nil {
					bc.Recorded = &backup.Settlement{Failed: st.Failed, InputTokens: st.In, OutputTokens: st.Out,
						CacheRead: st.CR, CacheWrite: st.CW, CostNanos: st.Cost, PriceVersion: st.PriceVersion}
				}
				return emit(backup.Record{Kind: backup.KindCall, Call: bc})
			})
			if err != nil {
				return err
			}
			err = scanPrefix(tx.Bucket(bHistory), p, func(k, v []byte) error {
				var d dayRec
				if err := json.Unmarshal(v, &d); err != nil {
					return err
				}
				return emit(backup.Record{Kind: backup.KindDay, Day: &backup.Day{TenantID: string(id),
					Date: string(k[len(p):]), Counters: toCounters(d)}})
			})
			if err != nil {
				return err
			}
			err = scanPrefix(tx.Bucket(bAgentDay), p, func(k, v []byte) error {
				var u modelRec
				if err := json.Unmarshal(v, &u); err != nil {
					return err
				}
				date, agent, ok := strings.Cut(string(k[len(p):]), "/")
				if !ok {
					return fmt.Errorf("agent day key %q is malformed", k)
				}
				return emit(backup.Record{Kind: backup.KindAgentDay, AgentDay: &backup.AgentDay{TenantID: string(id),
					Date: date, AgentID: agent, ModelCounters: backup.ModelCounters{Queries: u.Queries, InputTokens: u.In,
						OutputTokens: u.Out, CacheRead: u.CR, CacheWrite: u.CW, CostNanos: u.Cost}}})
			})
			if err != nil {
				return err
			}
			err = scanPrefix(tx.Bucket(bAlerts), p, func(k, v []byte) error {
				var a alertRec
				if err := json.Unmarshal(v, &a); err != nil {
					return err
				}
				// <at>#<period>#<period key>#<pct>
				parts := strings.Split(string(k[len(p):]), "#")
				if len(parts) != 4 {
					return fmt.Errorf("alert key %q is malformed", k)
				}
				return emit(backup.Record{Kind: backup.KindAlert, Alert: &backup.Alert{TenantID: a.TenantID, Period: a.Period,
					PeriodKey: parts[2], ThresholdPct: a.Threshold, SpentNanos: a.Spent, CapNanos: a.Cap, At: a.At}})
			})
			if err != nil {
				return err
			}
			// Sessions (keys <agent>#<session>: agent, then session id
			// order), one decoded at a time; those of a deleted agent are
			// left out.
			agents := tx.Bucket(bAgents)
			return scanPrefix(tx.Bucket(bSessions), p, func(k, v []byte) error {
				var r sessionRec
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("decoding %s: %w", k, err)
				}
				if agents.Get(k2(r.TenantID, r.AgentID)) == nil {
					return nil
				}
				return emit(backup.Record{Kind: backup.KindSession, Session: backup.FromSession(r.session())})
			})
		})
	})
}

// Import implements backup.Store: one transaction per record; a session
// only with its agent.
func (s *Store) Import(ctx context.Context, rec backup.Record) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		switch {
		case rec.Tenant != nil:
			t := rec.Tenant
			if tx.Bucket(bTenants).Get([]byte(t.ID)) != nil {
				return tenancy.TenantExists(t.ID)
			}
			r := tenantRec{Active: t.Active, CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
				AgentCount: t.AgentCount, TotalQueries: t.TotalQueries, LifetimeCost: t.LifetimeCostNanos,
				Day: t.Day, Hour: t.Hour, HourQueries: t.HourQueries, Budget: t.BudgetNanos, W: fromCounters(t.Window),
				Tz: t.Timezone, TzPrev: t.PrevTimezone, MKey: t.Month, MSpent: t.MonthSpentNanos,
				MReserved: t.MonthReserved, MBudget: t.MonthBudgetNanos, ADPct: t.DayAlertPct, AMPct: t.MonthAlertPct}
			if t.PrevTimezone != "" && t.TimezoneFrom != nil {
				r.TzFrom = t.TimezoneFrom.UTC()
			}
			r.setConfig(tenancy.TenantConfig{TenantID: t.ID, Name: t.Name, MaxAgents: t.MaxAgents,
				MaxQueriesPerHour: t.MaxQueriesPerHour, MaxCostPerDay: tenancy.Money(t.MaxCostNanos),
				AllowedModels: t.AllowedModels, AllowedTools: t.AllowedTools, Metadata: t.Metadata,
				MaxCostPerMonth: moneyPtr(t.MaxCostNanosMonth), OpenClawGatewayURL: t.OpenClawGatewayURL,
				OpenClawTokenSecret: t.OpenClawTokenSecret, AlertThresholdsPct: nonNilInts(t.AlertThresholdsPct),
				SessionTTLDays: t.SessionTTLDays})
			return writeTenant(tx, r)
		case rec.Agent != nil:
			a := rec.Agent
			return put(tx.Bucket(bAgents), k2(a.TenantID, a.AgentID), agentRec{TenantID: a.TenantID, AgentID: a.AgentID,
				Name: a.Name, SystemPrompt: a.SystemPrompt, LLMModel: a.LLMModel, Tools: nonNil(a.Tools),
				MaxOutputTokens: a.MaxOutputTokens, MaxHistoryTurns: a.MaxHistoryTurns, CreatedAt: a.CreatedAt.UTC()})
		case rec.Key != nil:
			k := rec.Key
			r := keyRec{KeyID: k.KeyID, TenantID: k.TenantID, Hash: k.Hash, CreatedAt: k.CreatedAt.UTC()}
			if err := put(tx.Bucket(bKeys), []byte(k.Hash), r); err != nil {
				return err
			}
			return put(tx.Bucket(bKeyIDs), k2(k.TenantID, k.KeyID), r)
		case rec.Call != nil:
			c := rec.Call
			r := callRec{CallID: c.CallID, TenantID: c.TenantID, AgentID: c.AgentID, Model: c.Model, Reserve: c.ReserveNanos,
				Day: c.Day, AdmittedAt: c.AdmittedAt.UTC()}
			if st := c.Recorded; st != nil {
				r.Recorded = &settleRec{Failed: st.Failed, In: st.InputTokens, Out: st.OutputTokens, CR: st.CacheRead,
					CW: st.CacheWrite, Cost: st.CostNanos, PriceVersion: st.PriceVersion}
			}
			return put(tx.Bucket(bCalls), k2(c.TenantID, c.CallID), r)
		case rec.Day != nil:
			return put(tx.Bucket(bHistory), k2(rec.Day.TenantID, rec.Day.Date), fromCounters(rec.Day.Counters))
		case rec.AgentDay != nil:
			a := rec.AgentDay
			return put(tx.Bucket(bAgentDay), agentDayKey(a.TenantID, a.Date, a.AgentID), modelRec{Queries: a.Queries,
				In: a.InputTokens, Out: a.OutputTokens, CR: a.CacheRead, CW: a.CacheWrite, Cost: a.CostNanos})
		case rec.Session != nil:
			sess := rec.Session.Session()
			if tx.Bucket(bAgents).Get(k2(sess.TenantID, sess.AgentID)) == nil {
				return tenancy.AgentNotFound(sess.AgentID, sess.TenantID)
			}
			return put(tx.Bucket(bSessions), sessionKey(sess.SessionKey), newSessionRec(sess))
		case rec.Alert != nil:
			a := rec.Alert
			return put(tx.Bucket(bAlerts), alertKey(tenancy.Alert{TenantID: a.TenantID, Period: a.Period,
				ThresholdPct: a.ThresholdPct, At: a.At}, a.PeriodKey), alertRec{TenantID: a.TenantID, Period: a.Period,
				Threshold: a.ThresholdPct, Spent: a.SpentNanos, Cap: a.CapNanos, At: a.At.UTC()})
		}
		return nil
	})
}

func monthCap(capped bool, nanos int64) *int64 {
	if !capped {
		return nil
	}
	return &nanos
}

func nonNilInts(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

func moneyPtr(nanos *int64) *tenancy.Money {
	if nanos == nil {
		return nil
	}
	m := tenancy.Money(*nanos)
	return &m
}
