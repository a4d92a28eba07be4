package boltstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// readTenant reads a tenant record; TenantNotFound when there is none.
func readTenant(tx *bolt.Tx, tenantID string) (tenantRec, error) {
	var r tenantRec
	ok, err := get(tx.Bucket(bTenants), []byte(tenantID), &r)
	if err != nil {
		return r, err
	}
	if !ok {
		return r, tenancy.TenantNotFound(tenantID)
	}
	return r, nil
}

func writeTenant(tx *bolt.Tx, r tenantRec) error { return put(tx.Bucket(bTenants), []byte(r.ID), r) }

// CreateTenant implements tenancy.Store.
func (s *Store) CreateTenant(ctx context.Context, t tenancy.Tenant) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bTenants).Get([]byte(t.TenantID)) != nil {
			return tenancy.TenantExists(t.TenantID)
		}
		return writeTenant(tx, newTenantRec(t))
	})
}

// GetTenant implements tenancy.Store.
func (s *Store) GetTenant(ctx context.Context, tenantID string) (tenancy.Tenant, error) {
	var t tenancy.Tenant
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, err := readTenant(tx, tenantID)
		t = r.tenant()
		return err
	})
	if err != nil {
		return tenancy.Tenant{}, err
	}
	return t, nil
}

// ListTenants implements tenancy.Store: tenants in id order, from a cursor
// (the page token is the last id of the previous page).
func (s *Store) ListTenants(ctx context.Context, limit int, pageToken string) ([]tenancy.Tenant, string, error) {
	var after string
	if pageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil || !tenancy.ValidTenantID(string(b)) {
			return nil, "", tenancy.Validationf("next_token is not a valid page token")
		}
		after = string(b)
	}
	tenants := make([]tenancy.Tenant, 0, limit)
	next := ""
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bTenants).Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			if len(tenants) == limit {
				next = base64.RawURLEncoding.EncodeToString([]byte(tenants[len(tenants)-1].TenantID))
				return nil
			}
			var r tenantRec
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			tenants = append(tenants, r.tenant())
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return tenants, next, nil
}

// UpdateTenant implements tenancy.Store: a changed cap moves the budget
// left by the difference in the same transaction.
func (s *Store) UpdateTenant(ctx context.Context, tenantID string, now time.Time, change func(*tenancy.TenantConfig) error) (tenancy.Tenant, error) {
	var out tenancy.Tenant
	err := s.update(ctx, func(tx *bolt.Tx) error {
		r, err := readTenant(tx, tenantID)
		if err != nil {
			return err
		}
		cfg := r.tenant().TenantConfig
		if err := change(&cfg); err != nil {
			return err
		}
		cfg.TenantID = tenantID
		r.Budget += int64(cfg.MaxCostPerDay) - r.MaxCost
		r.MBudget += int64(cfg.MonthCap()) - r.MaxCostMonth
		if t := r.tenant(); cfg.Timezone != t.Timezone {
			// The zone in effect now keeps today; the new one starts at the
			// next local midnight.
			cal := t.Calendar().Rezone(cfg.Timezone, now)
			r.Tz, r.TzPrev, r.TzFrom = cal.Zone, cal.Prev, time.Time{}
			if cal.Prev != "" {
				r.TzFrom = cal.From.UTC()
			}
		}
		r.setConfig(cfg)
		r.UpdatedAt = now.UTC()
		out = r.tenant()
		return writeTenant(tx, r)
	})
	if err != nil {
		return tenancy.Tenant{}, err
	}
	return out, nil
}

// SetActive implements tenancy.Store.
func (s *Store) SetActive(ctx context.Context, tenantID string, active bool, now time.Time) (tenancy.Tenant, error) {
	var out tenancy.Tenant
	err := s.update(ctx, func(tx *bolt.Tx) error {
		r, err := readTenant(tx, tenantID)
		if err != nil {
			return err
		}
		r.Active, r.UpdatedAt = active, now.UTC()
		out = r.tenant()
		return writeTenant(tx, r)
	})
	if err != nil {
		return tenancy.Tenant{}, err
	}
	return out, nil
}
