// Package webhook is the `webhook` provider: it sends the whole action as
// JSON to a configured URL. In an action's path it is the last stop
// (executor → provider → the outside world).
//
// A 2xx answer is success; its body (JSON, or text) becomes the response
// body. Any other answer is an error (decision D13): 5xx, 408 and 425 are
// retryable CONNECTION errors, 429 is a retryable RATE_LIMITED error, and
// both honour a Retry-After header (seconds or an HTTP date); other
// statuses are non-retryable EXECUTION_FAILED. Timeouts are retryable
// TIMEOUT errors and transport failures retryable CONNECTION errors.
//
// Error text never contains the URL, which may embed secrets, and quotes at
// most 256 bytes of an error body. All providers share one http.Client with
// a keep-alive pool unless Config.Client is set.
package webhook
