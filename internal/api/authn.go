package api

import "net/http"

// authenticate resolves the caller of every request and stores its
// auth.Identity in the request context. Without an Authenticator every
// request is auth.Anonymous (authentication disabled).
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.o.Authenticator == nil {
		return next
	}
	return s.o.Authenticator.Middleware(next)
}
