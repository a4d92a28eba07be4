package tenancy

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultAlertThresholds are the spend shares (percent of a cap) that raise
// an alert unless a tenant says otherwise.
func DefaultAlertThresholds() []int { return []int{80, 100} }

// MaxAlertThresholds bounds a tenant's threshold list.
const MaxAlertThresholds = 10

// Alert periods.
const (
	PeriodDay   = "day"
	PeriodMonth = "month"
)

// Alert says that a settlement made a period's spend cross a threshold of
// its cap. Exactly one is emitted per threshold and period.
type Alert struct {
	TenantID     string    `json:"tenant_id"`
	Period       string    `json:"period"` // day | month
	ThresholdPct int       `json:"threshold_pct"`
	Spent        Money     `json:"spent_usd"`
	Cap          Money     `json:"cap_usd"`
	At           time.Time `json:"at"`
}

// Notifier delivers alerts (EventBridge in AWS, a signed webhook locally).
type Notifier interface {
	Notify(ctx context.Context, a Alert) error
}

// NoThreshold is the alert room's target when no threshold is left (or
// there is no cap): far above any spend, so no settlement ever crosses it.
const NoThreshold Money = 1 << 60

// ThresholdAmount is the spend at which pct of cap is reached (rounded up:
// spend >= amount exactly when spend*100 >= cap*pct).
func ThresholdAmount(cap Money, pct int) Money {
	return (cap*Money(pct) + 99) / 100
}

// NextThreshold is the first threshold above sentPct (the highest already
// alerted in the period) and the spend that reaches it; NoThreshold when
// none is left or the cap is 0 (or there is none).
func NextThreshold(pcts []int, sentPct int, cap Money) (int, Money) {
	if cap <= 0 {
		return 0, NoThreshold
	}
	for _, p := range pcts {
		if p > sentPct {
			return p, ThresholdAmount(cap, p)
		}
	}
	return 0, NoThreshold
}

// AlertRoom is how much more may be spent in a period before the next
// threshold is reached: the store keeps it beside the spend, and a
// settlement whose cost does not fit in it is the one that crosses.
func AlertRoom(pcts []int, sentPct int, cap, spent Money) Money {
	_, amount := NextThreshold(pcts, sentPct, cap)
	return amount - spent
}

// Crossed lists the thresholds above sentPct that a spend reaches, and the
// new highest alerted threshold.
func Crossed(pcts []int, sentPct int, cap, spent Money) ([]int, int) {
	var out []int
	if cap <= 0 {
		return nil, sentPct
	}
	for _, p := range pcts {
		if p > sentPct && spent >= ThresholdAmount(cap, p) {
			out = append(out, p)
			sentPct = p
		}
	}
	return out, sentPct
}

// checkThresholds validates alert_thresholds_pct.
func checkThresholds(pcts []int) error {
	if len(pcts) > MaxAlertThresholds {
		return Validationf("alert_thresholds_pct may have at most %d entries", MaxAlertThresholds)
	}
	for _, p := range pcts {
		if p < 1 || p > 100 {
			return Validationf("alert_thresholds_pct entries must be integers between 1 and 100")
		}
	}
	return nil
}

// normalThresholds sorts and dedupes a threshold list.
func normalThresholds(pcts []int) []int {
	out := append([]int{}, pcts...)
	sort.Ints(out)
	n := 0
	for i, p := range out {
		if i == 0 || p != out[n-1] {
			out[n] = p
			n++
		}
	}
	return out[:n]
}

// FormatThresholds is a threshold list as stored: "80,100" ("" for none).
func FormatThresholds(pcts []int) string {
	s := make([]string, len(pcts))
	for i, p := range pcts {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// ParseThresholds reads FormatThresholds' output.
func ParseThresholds(s string) []int {
	out := []int{}
	if s == "" {
		return out
	}
	for _, f := range strings.Split(s, ",") {
		if p, err := strconv.Atoi(f); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// AlertState is a tenant's alert bookkeeping for the live day and month:
// the highest threshold sent, and the room before the next one.
type AlertState struct {
	DayPct, MonthPct   int
	DayRoom, MonthRoom Money
}

// InitialAlerts is the bookkeeping of a period with nothing spent or sent.
func InitialAlerts(c TenantConfig) AlertState {
	return AlertState{DayRoom: AlertRoom(c.AlertThresholdsPct, 0, c.MaxCostPerDay, 0),
		MonthRoom: AlertRoom(c.AlertThresholdsPct, 0, c.MonthCap(), 0)}
}

// SettleAlerts is what a settlement of cost does to the alerts of the
// tenant as it was just before (its live window): the alerts it raises
// (thresholds of the day's and the month's cap that the new spend reaches
// and that were not sent yet) and the bookkeeping after it.
func SettleAlerts(t Tenant, cost Money, at time.Time) ([]Alert, AlertState) {
	w := t.Usage
	var alerts []Alert
	daySpent, monthSpent := w.Spent+cost, w.MonthSpent+cost
	dayPcts, dayPct := Crossed(t.AlertThresholdsPct, w.DayAlertPct, t.MaxCostPerDay, daySpent)
	for _, p := range dayPcts {
		alerts = append(alerts, Alert{TenantID: t.TenantID, Period: PeriodDay, ThresholdPct: p, Spent: daySpent,
			Cap: t.MaxCostPerDay, At: at.UTC()})
	}
	monthPcts, monthPct := Crossed(t.AlertThresholdsPct, w.MonthAlertPct, t.MonthCap(), monthSpent)
	for _, p := range monthPcts {
		alerts = append(alerts, Alert{TenantID: t.TenantID, Period: PeriodMonth, ThresholdPct: p, Spent: monthSpent,
			Cap: t.MonthCap(), At: at.UTC()})
	}
	return alerts, AlertState{DayPct: dayPct, MonthPct: monthPct,
		DayRoom:   AlertRoom(t.AlertThresholdsPct, dayPct, t.MaxCostPerDay, daySpent),
		MonthRoom: AlertRoom(t.AlertThresholdsPct, monthPct, t.MonthCap(), monthSpent)}
}

// WallAlerts is what reaching the wall does to the alerts: an admission
// refused because a period's budget is really exhausted (cost_limit: the
// day; monthly_cost_limit: the month; never the *_in_flight refusals, whose
// budget frees in seconds) counts as crossing every threshold of that
// period not alerted yet. The worst-case reservation refuses calls before
// the settled spend reaches the cap, so without this the top thresholds
// (100% by default) would never fire in ordinary use. The alerts carry the
// period's settled spend and its cap; state is the bookkeeping after them
// (the other period's unchanged). None when the refusal is another one or
// every threshold of the period was sent.
func WallAlerts(t Tenant, refusal error, at time.Time) ([]Alert, AlertState) {
	w := t.Usage
	st := AlertState{DayPct: w.DayAlertPct, MonthPct: w.MonthAlertPct,
		DayRoom:   AlertRoom(t.AlertThresholdsPct, w.DayAlertPct, t.MaxCostPerDay, w.Spent),
		MonthRoom: AlertRoom(t.AlertThresholdsPct, w.MonthAlertPct, t.MonthCap(), w.MonthSpent)}
	period, sent, spent, limit := "", 0, Money(0), Money(0)
	switch {
	case errors.Is(refusal, ErrCostLimit):
		period, sent, spent, limit = PeriodDay, w.DayAlertPct, w.Spent, t.MaxCostPerDay
	case errors.Is(refusal, ErrMonthlyLimit):
		period, sent, spent, limit = PeriodMonth, w.MonthAlertPct, w.MonthSpent, t.MonthCap()
	default:
		return nil, st
	}
	if limit <= 0 {
		return nil, st
	}
	var alerts []Alert
	for _, p := range t.AlertThresholdsPct {
		if p > sent {
			alerts = append(alerts, Alert{TenantID: t.TenantID, Period: period, ThresholdPct: p, Spent: spent,
				Cap: limit, At: at.UTC()})
			sent = p
		}
	}
	if period == PeriodDay {
		st.DayPct, st.DayRoom = sent, AlertRoom(t.AlertThresholdsPct, sent, limit, spent)
	} else {
		st.MonthPct, st.MonthRoom = sent, AlertRoom(t.AlertThresholdsPct, sent, limit, spent)
	}
	return alerts, st
}
