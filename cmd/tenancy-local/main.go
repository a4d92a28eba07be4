// Command tenancy-local serves the API on http://127.0.0.1:3000 (or
// TENANCY_LISTEN) with the Lambda functions' own handler code, on the
// store TENANCY_STORE selects (the persistent embedded store by default).
// `make run` runs it. `tenancy-local export > backup.jsonl` and
// `tenancy-local import < backup.jsonl` move everything between stores.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/localapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 {
		if err := localapi.Backup(ctx, os.Getenv, os.Args[1], os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "tenancy-local:", err)
			os.Exit(1)
		}
		return
	}
	loc, err := localapi.Start(ctx, localapi.Options{App: app.Options{Getenv: os.Getenv}, Out: os.Stderr, Schedule: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenancy-local:", err)
		os.Exit(1)
	}
	defer loc.Close()
	if err := loc.Serve(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tenancy-local:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "tenancy-local: stopped")
}
