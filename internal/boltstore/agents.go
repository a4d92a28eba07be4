package boltstore

import (
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// CreateAgent implements tenancy.Store: the agent limit and the tenant's
// model and tool lists are checked and the agent inserted in one
// transaction, so concurrent creates never exceed the limit.
func (s *Store) CreateAgent(ctx context.Context, a tenancy.Agent) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		r, err := readTenant(tx, a.TenantID)
		if err != nil {
			return err
		}
		t := r.tenant()
		if err := tenancy.ExplainAgentRefusal(&t, a); err != nil {
			return err
		}
		agents := tx.Bucket(bAgents)
		key := k2(a.TenantID, a.AgentID)
		if agents.Get(key) != nil {
			return tenancy.AgentExists(a.AgentID, a.TenantID)
		}
		r.AgentCount++
		if err := writeTenant(tx, r); err != nil {
			return err
		}
		return put(agents, key, newAgentRec(a))
	})
}

// GetAgent implements tenancy.Store.
func (s *Store) GetAgent(ctx context.Context, tenantID, agentID string) (tenancy.Agent, error) {
	var r agentRec
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bAgents), k2(tenantID, agentID), &r)
		if err == nil && !ok {
			err = tenancy.AgentNotFound(agentID, tenantID)
		}
		return err
	})
	if err != nil {
		return tenancy.Agent{}, err
	}
	return r.agent(), nil
}

// ListAgents implements tenancy.Store (all of a tenant's agents, by id).
func (s *Store) ListAgents(ctx context.Context, tenantID string) ([]tenancy.Agent, error) {
	agents := []tenancy.Agent{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return scanPrefix(tx.Bucket(bAgents), prefix(tenantID), func(_, v []byte) error {
			var r agentRec
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			agents = append(agents, r.agent())
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return agents, nil
}

// DeleteAgent implements tenancy.Store: the agent goes and its slot is
// freed in one transaction.
func (s *Store) DeleteAgent(ctx context.Context, tenantID, agentID string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		r, err := readTenant(tx, tenantID)
		if err != nil {
			return err
		}
		agents := tx.Bucket(bAgents)
		key := k2(tenantID, agentID)
		if agents.Get(key) == nil {
			return tenancy.AgentNotFound(agentID, tenantID)
		}
		r.AgentCount--
		if err := writeTenant(tx, r); err != nil {
			return err
		}
		return agents.Delete(key)
	})
}
