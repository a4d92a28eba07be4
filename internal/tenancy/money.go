package tenancy

import (
	"bytes"
	"fmt"
	"math/big"
	"strconv"
)

// Money is an amount in nano-USD (1e-9 USD). All arithmetic on money is
// integer arithmetic on this type; USD appears only in JSON (an exact
// decimal number, never a float) and in messages.
type Money int64

const (
	// NanosPerUSD is one dollar in Money.
	NanosPerUSD Money = 1_000_000_000
	// MaxMoney bounds every configured amount: 1,000,000 USD keeps every sum
	// far below 2^53, so it stays exact even on float-backed engines.
	MaxMoney Money = 1_000_000 * NanosPerUSD
)

// USD builds Money from whole dollars and nano-dollars, for tests and defaults.
func USD(dollars int64) Money { return Money(dollars) * NanosPerUSD }

// Float returns the amount in USD as a float64, for ratios only.
func (m Money) Float() float64 { return float64(m) / float64(NanosPerUSD) }

// Decimal renders the exact amount in USD: 10.5, 0.000123, 0, -1.25.
func (m Money) Decimal() string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = uint64(-m)
	}
	whole, frac := u/uint64(NanosPerUSD), u%uint64(NanosPerUSD)
	s := strconv.FormatUint(whole, 10)
	if frac != 0 {
		f := fmt.Sprintf("%09d", frac)
		s += "." + string(bytes.TrimRight([]byte(f), "0"))
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Cents renders the amount as the seed's messages do: "$10.50" (half up).
func (m Money) Cents() string {
	neg := m < 0
	if neg {
		m = -m
	}
	cents := (int64(m) + 5_000_000) / 10_000_000
	s := fmt.Sprintf("$%d.%02d", cents/100, cents%100)
	if neg {
		s = "-" + s
	}
	return s
}

// MarshalJSON writes the amount as an exact decimal number of USD.
func (m Money) MarshalJSON() ([]byte, error) { return []byte(m.Decimal()), nil }

// UnmarshalJSON reads a JSON number of USD exactly (no float rounding). More
// than 9 decimal places, strings, and amounts beyond MaxMoney are refused.
func (m *Money) UnmarshalJSON(b []byte) error {
	v, err := ParseUSD(string(b))
	if err != nil {
		return Validationf("Invalid USD amount: %v", err)
	}
	*m = v
	return nil
}

// ParseUSD parses a decimal USD amount ("10", "10.5", "1e-3") into Money.
func ParseUSD(s string) (Money, error) {
	if s == "" || s == "null" || s[0] == '"' || len(s) > 64 {
		return 0, fmt.Errorf("must be a number of USD")
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("must be a number of USD")
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(NanosPerUSD)))
	if !r.IsInt() {
		return 0, fmt.Errorf("must have at most 9 decimal places")
	}
	n := r.Num()
	if n.CmpAbs(big.NewInt(int64(MaxMoney))) > 0 {
		return 0, fmt.Errorf("must be between -%s and %s", MaxMoney.Decimal(), MaxMoney.Decimal())
	}
	return Money(n.Int64()), nil
}
