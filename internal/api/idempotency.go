package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/idempotency"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Idempotency makes retried executes safe: a request with an
// Idempotency-Key that already completed returns the first response without
// a second model call or charge.
type Idempotency struct {
	Store idempotency.Store
	Clock clock.Clock
	// TTL is how long a completed response is kept (default 24h);
	// InProgressTimeout is how long a claim lasts if its process dies
	// (default 60s, above the execute function's timeout).
	TTL, InProgressTimeout time.Duration
}

// MaxStoredResponseBytes is the largest response kept for replay.
const MaxStoredResponseBytes = 256 << 10

// IdempotencyHeader is the request header that names a retry-safe request.
const IdempotencyHeader = "Idempotency-Key"

func validIdempotencyKey(k string) bool {
	if len(k) < 1 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '!' || k[i] > '~' {
			return false
		}
	}
	return true
}

func hashHex(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// idempotent wraps an execute handler.
func (h *Handler) idempotent(next handlerFunc) handlerFunc {
	return func(ctx context.Context, r *request) (int, any, error) {
		key := r.header(IdempotencyHeader)
		idem := h.deps.Idem
		if key == "" || idem == nil {
			return next(ctx, r)
		}
		if !validIdempotencyKey(key) {
			return 0, nil, tenancy.Validationf("Idempotency-Key must be 1 to 255 printable ASCII characters")
		}
		body, err := r.body()
		if err != nil {
			return 0, nil, err
		}
		if WantsStream(r.header("Accept"), body) { // a stream is not replayable
			return next(ctx, r)
		}
		tenantID := r.param("tenant_id")
		if err := tenancy.CheckTenantID(tenantID); err != nil {
			return 0, nil, err
		}
		ttl, inprog := idem.TTL, idem.InProgressTimeout
		if ttl == 0 {
			ttl = 24 * time.Hour
		}
		if inprog == 0 {
			inprog = 60 * time.Second
		}
		now := idem.Clock.Now()
		keyHash := hashHex(key)
		payload := hashHex(r.ev.RouteKey, r.ev.RawPath, r.ev.RawQueryString, string(body))
		owner := tenancy.RandomID() // this claim's token: only it may complete or abandon the record
		rec, claimed, err := idem.Store.ClaimRequest(ctx, tenantID, keyHash, owner, payload, now, now.Add(inprog), now.Add(ttl))
		if err != nil {
			return 0, nil, err
		}
		if !claimed {
			switch {
			case rec.PayloadHash != payload:
				return 0, nil, errorf(http.StatusUnprocessableEntity, "idempotency_key_reused",
					"This Idempotency-Key was used with a different request")
			case rec.Status == idempotency.Completed:
				return rec.StatusCode, rawBody{contentType: "application/json", body: rec.Body, replayed: true}, nil
			default:
				return 0, nil, errorf(http.StatusConflict, "idempotency_in_progress",
					"A request with this Idempotency-Key is still in progress; retry later")
			}
		}
		status, out, err := next(ctx, r)
		if err != nil {
			// Nothing was charged for a failed execute: let a retry run it.
			if aerr := idem.Store.AbandonRequest(context.WithoutCancel(ctx), tenantID, keyHash, owner); aerr != nil {
				h.deps.Logger.ErrorContext(ctx, "abandoning an idempotency record failed", "tenant_id", tenantID, "error", aerr)
			}
			return 0, nil, err
		}
		resp := jsonResponse(status, out, nil)
		stored, storedStatus := resp.Body, status
		if len(stored) > MaxStoredResponseBytes {
			// Too large to keep (a DynamoDB item holds 400 KB): keep that it
			// happened, so a retry is told so instead of being run (and
			// charged) a second time.
			tooLarge := errorResponse(toProblem(errorf(http.StatusConflict, "idempotency_response_too_large",
				fmt.Sprintf("The request with this Idempotency-Key completed (status %d), but its response (%d bytes) "+
					"was too large to keep; it is not run again", status, len(resp.Body)))))
			storedStatus, stored = tooLarge.StatusCode, tooLarge.Body
		}
		if cerr := idem.Store.CompleteRequest(context.WithoutCancel(ctx), tenantID, keyHash, owner, storedStatus, stored, now.Add(ttl)); cerr != nil {
			// The execute happened and was charged; answer it. A retry in the
			// next InProgressTimeout gets 409, later it would run again.
			h.deps.Logger.ErrorContext(ctx, "completing an idempotency record failed", "tenant_id", tenantID, "error", cerr)
		}
		return status, rawBody{contentType: "application/json", body: resp.Body}, nil
	}
}
