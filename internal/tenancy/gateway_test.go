package tenancy

import "testing"

// A tenant's gateway token secret can only be named under the
// tenant-gateway prefix the execute function's IAM grant covers.
func TestGatewayTokenSecretRule(t *testing.T) {
	const url = "https://gw.example"
	for name, ok := range map[string]bool{
		"tenancy-dev/tenant-gateway/globex":          true,
		"tenancy-prod-eu/tenant-gateway/a_B.c@d=e+f": true,
		GatewayTokenSecretPrefix("dev") + "x":        true,
		"GLOBEX_GW_TOKEN":                            false,
		"tenancy-dev/tenant-gateway/":                false,
		"tenancy-dev/tenant-gateway/a/b":             false,
		"tenancy-dev/admin":                          false,
		"tenancy-/tenant-gateway/a":                  false,
		"tenancy-1dev/tenant-gateway/a":              false,
		"xtenancy-dev/tenant-gateway/a":              false,
		"tenancy-dev/tenant-gateway/a*":              false,
		"tenancy-dev/tenant-gateway/a\n":             false,
	} {
		err := checkGateway(url, name)
		if ok && err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
		if !ok && (err == nil || err.Error() != "openclaw_gateway_token_secret must be named "+GatewayTokenSecretRule) {
			t.Errorf("%q: got %v", name, err)
		}
	}
	if err := checkGateway("", "tenancy-dev/tenant-gateway/globex"); err == nil || err.Error() != "openclaw_gateway_token_secret needs openclaw_gateway_url" {
		t.Errorf("secret without url: %v", err)
	}
	if got := GatewayTokenEnv("tenancy-dev/tenant-gateway/glo.bex-1"); got != "TENANCY_DEV_TENANT_GATEWAY_GLO_BEX_1" {
		t.Errorf("env name %q", got)
	}
	if got := GatewayTokenSecretPrefix("prod"); got != "tenancy-prod/tenant-gateway/" {
		t.Errorf("prefix %q", got)
	}
}
