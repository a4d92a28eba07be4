package api

import (
	"net/url"
	"strings"
)

// Match finds the route of a method and path, with its path parameters.
func Match(method, path string) (Route, map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, rt := range Routes {
		if rt.Method != method {
			continue
		}
		pat := strings.Split(strings.Trim(rt.Path, "/"), "/")
		if len(pat) != len(segs) {
			continue
		}
		params, ok := map[string]string{}, true
		for i, p := range pat {
			if strings.HasPrefix(p, "{") {
				v, err := url.PathUnescape(segs[i])
				if err != nil || v == "" {
					ok = false
					break
				}
				params[strings.Trim(p, "{}")] = v
			} else if p != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return rt, params, true
		}
	}
	return Route{}, nil, false
}
