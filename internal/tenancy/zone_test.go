package tenancy

import (
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Where DST starts at midnight the local day starts at 01:00, the first
// instant whose local date is that day (time.Date answers 23:00 of the day
// before, an hour early); resets_at, Retry-After and a timezone change's
// start all come from NextDay/NextMonth. New York's 23- and 25-hour days
// are unchanged.
func TestStartOfDayWhereDSTSkipsMidnight(t *testing.T) {
	for _, c := range []struct {
		zone, now, next string
		hours           float64 // length of the day that starts at next
	}{
		{"America/Santiago", "2026-09-05T16:00:00Z", "2026-09-06T04:00:00Z", 23},
		{"America/Asuncion", "2024-10-05T16:00:00Z", "2024-10-06T04:00:00Z", 23},
		{"America/Havana", "2026-03-07T17:00:00Z", "2026-03-08T05:00:00Z", 23},
		// DST ends at midnight: 24:00 -03 becomes 23:00 -04 again (2026-04-04
		// lasts 25 h), the 5th starts at its own midnight.
		{"America/Santiago", "2026-04-04T16:00:00Z", "2026-04-05T04:00:00Z", 24},
		{"America/New_York", "2026-03-07T17:00:00Z", "2026-03-08T05:00:00Z", 23},
		{"America/New_York", "2026-10-31T16:00:00Z", "2026-11-01T04:00:00Z", 25},
		{"UTC", "2026-11-28T14:30:00Z", "2026-11-29T00:00:00Z", 24},
	} {
		loc, err := LoadZone(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		next := NextDay(utc(c.now), loc)
		if want := utc(c.next); !next.Equal(want) {
			t.Errorf("%s: NextDay(%s) = %s, want %s", c.zone, c.now, next.Format(time.RFC3339), c.next)
		}
		cal := Calendar{Zone: c.zone}
		if got := cal.NextDay(utc(c.now)); !got.Equal(next) {
			t.Errorf("%s: Calendar.NextDay = %s, want %s", c.zone, got, next)
		}
		if h := NextDay(next, loc).Sub(next).Hours(); h != c.hours {
			t.Errorf("%s: the day starting %s lasts %vh, want %vh", c.zone, c.next, h, c.hours)
		}
		if DayKey(next, loc) == DayKey(next.Add(-time.Nanosecond), loc) {
			t.Errorf("%s: %s is not the start of a local day", c.zone, c.next)
		}
	}
	// A pending timezone change starts at the new day's first instant.
	cal := Calendar{Zone: "America/Havana"}.Rezone("UTC", utc("2026-03-07T17:00:00Z"))
	if want := utc("2026-03-08T05:00:00Z"); !cal.From.Equal(want) {
		t.Errorf("Rezone from Havana takes effect at %s, want %s", cal.From, want)
	}
	// The month: Santiago's 2026-09 starts at local midnight (-04).
	loc, _ := LoadZone("America/Santiago")
	if got, want := NextMonth(utc("2026-08-20T12:00:00Z"), loc), utc("2026-09-01T04:00:00Z"); !got.Equal(want) {
		t.Errorf("NextMonth = %s, want %s", got, want)
	}
}

// Every day of 2020-2030 in these zones starts where the previous one
// ends: NextDay's instant has the next local date, the nanosecond before
// it the previous.
func TestNextDayIsTheFirstInstantOfEveryDay(t *testing.T) {
	for _, z := range []string{"America/Santiago", "America/Asuncion", "America/Havana", "America/New_York", "Europe/Paris",
		"Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia"} {
		loc, err := LoadZone(z)
		if err != nil {
			t.Fatal(err)
		}
		for now := utc("2020-01-01T12:00:00Z"); now.Year() < 2031; {
			next := NextDay(now, loc)
			before := DayKey(next.Add(-time.Nanosecond), loc)
			if before != DayKey(now, loc) || DayKey(next, loc) <= before {
				t.Fatalf("%s: NextDay(%s) = %s: local %s then %s", z, now, next, before, DayKey(next, loc))
			}
			now = next
		}
	}
}
