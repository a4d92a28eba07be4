package tests

import (
	"github.com/openclaw/tenancy/internal/api"
)

func matchRoute(method, path string) (api.Route, bool, bool) {
	for _, rt := range api.Routes {
		if rt.Method == method && rt.Path == path {
			return rt, true, true
		}
	}
	return api.Route{}, false, false
}

func routeCount() int { return len(api.Routes) }
