// Command load fires concurrent executes at a fresh local API and checks
// that limits hold and bills are exact; `make load` runs it. It prints a
// table, then one JSON line, and exits 1 if an invariant broke.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/openclaw/tenancy/internal/loadtest"
	"github.com/openclaw/tenancy/internal/tenancy"
)

func main() {
	cfg := loadtest.Defaults()
	capUSD := cfg.CostCap.Decimal()
	flag.IntVar(&cfg.Requests, "requests", cfg.Requests, "executes to send")
	flag.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent clients")
	flag.IntVar(&cfg.Tenants, "tenants", cfg.Tenants, "tenants (>= 3: hourly-limited, cost-capped, unconstrained...)")
	flag.IntVar(&cfg.HourlyLimit, "hourly-limit", cfg.HourlyLimit, "max_queries_per_hour of the hourly-limited tenant")
	flag.StringVar(&capUSD, "cost-cap-usd", capUSD, "max_cost_usd_per_day of the cost-capped tenant")
	flag.Int64Var(&cfg.Usage.PromptTokens, "prompt-tokens", cfg.Usage.PromptTokens, "input tokens the fake model reports per call")
	flag.Int64Var(&cfg.Usage.CompletionTokens, "completion-tokens", cfg.Usage.CompletionTokens, "output tokens the fake model reports per call")
	flag.StringVar(&cfg.Store, "store", "", "the local API's store: bolt (default), memory (minidyn) or dynamodb (DYNAMODB_ENDPOINT)")
	flag.DurationVar(&cfg.ModelDelay, "model-delay", 0, "how long the fake model takes per call")
	flag.Parse()
	c, err := tenancy.ParseUSD(capUSD)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load: -cost-cap-usd:", err)
		os.Exit(2)
	}
	cfg.CostCap = c
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	res, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	res.Print(os.Stdout)
	if len(res.Violations) > 0 {
		os.Exit(1)
	}
}
