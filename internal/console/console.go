// Package console is the web console for operators and tenant admins: static
// HTML, CSS and JavaScript embedded in the binary, served at GET /console by
// the reports function. The page holds no data of its own: every call it
// makes goes to the HTTP API with the key the user signed in with.
package console

import "embed"

//go:embed static
var static embed.FS

// Asset is one file of the console.
type Asset struct {
	Name        string
	ContentType string
	Body        string
}

// Assets are the console's files by the route path that serves them.
var Assets = map[string]Asset{
	"/console":         load("index.html", "text/html; charset=utf-8"),
	"/console/app.js":  load("app.js", "text/javascript; charset=utf-8"),
	"/console/app.css": load("app.css", "text/css; charset=utf-8"),
}

func load(name, contentType string) Asset {
	b, err := static.ReadFile("static/" + name)
	if err != nil {
		panic("console: " + err.Error()) // embedded at build time: cannot happen
	}
	return Asset{Name: name, ContentType: contentType, Body: string(b)}
}

// CSP is the console's Content-Security-Policy: scripts, styles and API
// calls from this origin only, no inline script or style, no plugins, no
// framing, no third-party origin.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Headers are the response headers of every console file.
func Headers(contentType string) map[string]string {
	return map[string]string{
		"Content-Type":            contentType,
		"Content-Security-Policy": CSP,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-cache",
	}
}
