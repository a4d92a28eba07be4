package localapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/openclaw/tenancy/internal/backup"
	"github.com/openclaw/tenancy/internal/boltstore"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/schema"
)

// OpenBackupStore opens the store TENANCY_STORE selects for an export or
// import: the bolt file in TENANCY_DATA_DIR (refused while a server has it
// open), or DynamoDB at DYNAMODB_ENDPOINT (or AWS), whose table
// (TENANCY_TABLE) is created if missing. The in-memory store has nothing to
// export and keeps nothing imported, so it is refused.
func OpenBackupStore(ctx context.Context, getenv func(string) string) (backup.Store, string, func(), error) {
	kind, err := StoreKind(getenv)
	if err != nil {
		return nil, "", nil, err
	}
	switch kind {
	case StoreBolt:
		dir := getenv(schema.EnvDataDir)
		if dir == "" {
			dir = DefaultDataDir
		}
		bs, err := boltstore.Open(dir, boltstore.Options{})
		if err != nil {
			return nil, "", nil, err
		}
		return bs, "bolt " + bs.Path(), func() { _ = bs.Close() }, nil
	case StoreDynamoDB:
		table := getenv(schema.EnvTable)
		if table == "" {
			table = schema.DefaultTableName
		}
		endpoint := getenv(schema.EnvEndpoint)
		db, err := dynamostore.NewClient(ctx, endpoint)
		if err != nil {
			return nil, "", nil, err
		}
		if err := dynamostore.CreateTable(ctx, db, table); err != nil {
			return nil, "", nil, err
		}
		return dynamostore.New(db, table), fmt.Sprintf("dynamodb at %s, table %q", endpoint, table), func() {}, nil
	}
	return nil, "", nil, errors.New("TENANCY_STORE=memory keeps nothing between runs: export and import need bolt or dynamodb")
}

// Backup runs `tenancy-local export` (the store's records as JSON lines on
// out) or `tenancy-local import` (JSON lines from in), and says what it did
// on log. Sessions expired at the time of the run are left out (export) or
// skipped (import), and counted on log.
func Backup(ctx context.Context, getenv func(string) string, command string, in io.Reader, out, log io.Writer) error {
	if command != "export" && command != "import" {
		return fmt.Errorf("unknown command %q (export, import)", command)
	}
	s, where, closeStore, err := OpenBackupStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer closeStore()
	var n, expired int
	now := time.Now()
	if command == "export" {
		n, expired, err = backup.Write(ctx, s, out, now)
	} else {
		n, expired, err = backup.Read(ctx, s, in, now)
	}
	if err != nil {
		return fmt.Errorf("%s (%s) after %d records: %w", command, where, n, err)
	}
	verb, left := "exported from", "left out"
	if command == "import" {
		verb, left = "imported into", "skipped"
	}
	fmt.Fprintf(log, "%d records %s %s", n, verb, where)
	if expired > 0 {
		fmt.Fprintf(log, " (%d expired sessions %s)", expired, left)
	}
	fmt.Fprintln(log)
	return nil
}
