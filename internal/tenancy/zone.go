package tenancy

import (
	"sync"
	"time"

	// The zone database is compiled in: a Lambda's provided.al2023 runtime
	// has no /usr/share/zoneinfo, and every tenant's day depends on it.
	_ "time/tzdata"
)

// DefaultTimezone is a tenant's zone unless it says otherwise.
const DefaultTimezone = "UTC"

var (
	zonePattern = lazyRegexp(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$`)
	zones       sync.Map // name -> *time.Location
)

// LoadZone resolves an IANA time zone name ("Europe/Paris", "UTC"), cached.
// "Local" and names that are not in the zone database are refused.
func LoadZone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "Local" || len(name) > 64 || !zonePattern().MatchString(name) {
		return nil, Validationf("timezone must be an IANA time zone name such as Europe/Paris or UTC")
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, Validationf("timezone must be an IANA time zone name such as Europe/Paris or UTC")
	}
	zones.Store(name, l)
	return l, nil
}

// zone is LoadZone for names that were validated when stored; an unknown
// name (never stored) falls back to UTC.
func zone(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	l, err := LoadZone(name)
	if err != nil {
		return time.UTC
	}
	return l
}

// Calendar is a tenant's local calendar: days are Zone's from From on, and
// Prev's before (a change of timezone takes effect at the next local
// midnight of the zone in effect when it was made).
type Calendar struct {
	Zone string
	Prev string
	From time.Time
}

// ZoneAt is the zone in effect at t.
func (c Calendar) ZoneAt(t time.Time) *time.Location {
	if c.Prev != "" && t.Before(c.From) {
		return zone(c.Prev)
	}
	return zone(c.Zone)
}

// Day is the local day of t.
func (c Calendar) Day(t time.Time) string { return DayKey(t, c.ZoneAt(t)) }

// NextDay is the start of the local day after t's (a day lasts 23, 24 or
// 25 hours).
func (c Calendar) NextDay(t time.Time) time.Time { return NextDay(t, c.ZoneAt(t)) }

// NextMonth is the start of the local month after t's.
func (c Calendar) NextMonth(t time.Time) time.Time { return NextMonth(t, c.ZoneAt(t)) }

// Rezone is the calendar after the timezone is set to name at now: the
// zone in effect now keeps the rest of today, the new one starts at the
// next local midnight.
func (c Calendar) Rezone(name string, now time.Time) Calendar {
	cur := c.Zone
	if c.Prev != "" && now.Before(c.From) {
		cur = c.Prev
	}
	if cur == name {
		return Calendar{Zone: name}
	}
	return Calendar{Zone: name, Prev: cur, From: NextDay(now, zone(cur))}
}

// DayKey is the day of t in loc, YYYY-MM-DD.
func DayKey(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// MonthKey is the month of a day key (YYYY-MM-DD -> YYYY-MM).
func MonthKey(day string) string {
	if len(day) < 7 {
		return day
	}
	return day[:7]
}

// HourKey is the UTC hour of t, YYYY-MM-DDTHH: the hourly limit counts
// fixed UTC hours in every zone.
func HourKey(t time.Time) string { return t.UTC().Format("2006-01-02T15") }

// StartOfDay is the first instant whose local date in loc is y-m-d (the
// date normalised as time.Date does: day 32 is the next month's first).
// Usually local midnight; in a zone where a DST change skips midnight
// (America/Santiago 2026-09-06, America/Asuncion 2024-10-06,
// America/Havana 2026-03-08) time.Date answers an instant of the day
// before, and the day starts at the transition that skips it.
func StartOfDay(y int, m time.Month, d int, loc *time.Location) time.Time {
	want := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	for i := 0; i < 4 && t.Format(time.DateOnly) < want; i++ {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.After(t) {
			break
		}
		t = end.In(loc)
	}
	return t.UTC()
}

// NextDay is the start of the day after t's in loc (StartOfDay: the first
// instant of that day, even where DST skips its midnight).
func NextDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return StartOfDay(y, m, d+1, loc)
}

// NextMonth is the start of the month after t's in loc.
func NextMonth(t time.Time, loc *time.Location) time.Time {
	y, m, _ := t.In(loc).Date()
	return StartOfDay(y, m+1, 1, loc)
}

// NextHour is the start of the UTC hour after t.
func NextHour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour).Add(time.Hour) }
