// Package httpjson holds the JSON request and response helpers every HTTP
// handler of the gateway shares, so that each error body has the D3 shape
// {"error":"…","code":"…","message":"…","retryable":false} wherever it is
// written (the core API and feature packages alike).
package httpjson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/acteon/acteon-go/internal/state"
)

// ErrorBody is the D3 error shape.
type ErrorBody struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// Write encodes v as the response body with the given status.
func Write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		Error(w, http.StatusInternalServerError, "INTERNAL", "encoding response: "+err.Error(), false)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Error writes a D3 error body.
func Error(w http.ResponseWriter, status int, code, msg string, retryable bool) {
	b, _ := json.Marshal(ErrorBody{Error: msg, Code: code, Message: msg, Retryable: retryable})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// DefaultMaxBody is the request size limit when none is given (2 MiB).
const DefaultMaxBody = 2 << 20

// IsJSONContentType accepts application/json and any +json type.
func IsJSONContentType(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (len(mt) > 5 && mt[len(mt)-5:] == "+json")
}

// ReadBody enforces the JSON content type (415) and the size limit (413) and
// returns the body; on failure it has written the error and returns false.
// With required=false an empty body without a content type is accepted.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64, required bool) ([]byte, bool) {
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && !required && r.ContentLength == 0 {
		return nil, true
	}
	if !IsJSONContentType(ct) {
		Error(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "expected request with `Content-Type: application/json`", false)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			Error(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", fmt.Sprintf("request body exceeds the limit of %d bytes", limit), false)
			return nil, false
		}
		Error(w, http.StatusBadRequest, "BAD_REQUEST", "reading request body: "+err.Error(), false)
		return nil, false
	}
	if required && len(body) == 0 {
		Error(w, http.StatusBadRequest, "BAD_REQUEST", "request body is empty", false)
		return nil, false
	}
	return body, true
}

// Decode unmarshals a body into v, answering 400 for malformed JSON and 422
// (naming the field) for a wrong shape.
func Decode(w http.ResponseWriter, body []byte, v any) bool {
	if !json.Valid(body) {
		Error(w, http.StatusBadRequest, "BAD_REQUEST", "malformed JSON in request body", false)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			Error(w, http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY", fmt.Sprintf("%s: expected %s, got JSON %s", te.Field, te.Type, te.Value), false)
			return false
		}
		Error(w, http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY", err.Error(), false)
		return false
	}
	return true
}

// ReadJSON is ReadBody (required) followed by Decode.
func ReadJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	body, ok := ReadBody(w, r, limit, true)
	if !ok {
		return false
	}
	return Decode(w, body, v)
}

// NotFound writes 404 NOT_FOUND with the message "<what> not found:
// <detail>", detail being err's text without the leading "<sentinel>: ".
func NotFound(w http.ResponseWriter, what string, err, sentinel error) {
	Error(w, http.StatusNotFound, "NOT_FOUND", what+" not found: "+strings.TrimPrefix(err.Error(), sentinel.Error()+": "), false)
}

// StoreError answers a store error no more specific case took: 503
// STATE_UNAVAILABLE (retryable) when the state backend is unavailable or
// the deadline passed, else 500 INTERNAL.
func StoreError(w http.ResponseWriter, err error) {
	if errors.Is(err, state.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		Error(w, http.StatusServiceUnavailable, "STATE_UNAVAILABLE", err.Error(), true)
		return
	}
	Error(w, http.StatusInternalServerError, "INTERNAL", err.Error(), false)
}
