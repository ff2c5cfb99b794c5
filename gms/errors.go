package gms

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// gmsError is a refusal: status, exception name and message.
type gmsError struct {
	status    int
	exception string
	msg       string
}

func (e *gmsError) Error() string { return e.msg }

func fail(status int, exception, format string, args ...any) error {
	return &gmsError{status: status, exception: exception, msg: fmt.Sprintf(format, args...)}
}

// Exception names of the error bodies.
const (
	ExcBadRequest       = "BadRequestException"
	ExcServiceNotFound  = "ServiceNotFoundException"
	ExcNotFound         = "CallbackNotFoundException"
	ExcUnauthorized     = "UnauthorizedException"
	ExcUnavailable      = "ServiceUnavailableException"
	ExcConflict         = "ConflictException"
	ExcTooLarge         = "PayloadTooLargeException"
	ExcMediaType        = "UnsupportedMediaTypeException"
	ExcMethod           = "MethodNotAllowedException"
	ExcTooMany          = "TooManyNotificationsException"
	ExcTooManyCallbacks = "TooManyRequestsException"
	ExcInternal         = "InternalServerException"
	notFoundCallbackMsg = "callback %q not found"
)

// gmsStatus is how GMS answers one error code.
type gmsStatus struct {
	status    int
	exception string
}

// gmsErrors is GMS's table of the engine's codes (errcode.List): GMS has
// no 422, so a limit is a bad request (seed 003's statuses are 400, 404,
// 409 and 503); the callback id is the request id, so a request that is
// gone is a callback not found.
var gmsErrors = map[string]gmsStatus{
	routing.CodeConversationNotFound: {http.StatusNotFound, ExcNotFound},
	routing.CodeQueueNotFound:        {http.StatusNotFound, ExcNotFound},
	routing.CodeRequestNotFound:      {http.StatusNotFound, ExcNotFound},
	routing.CodeInvalidArgument:      {http.StatusBadRequest, ExcBadRequest},
	routing.CodeLimitExceeded:        {http.StatusBadRequest, ExcBadRequest},
}

// ErrorFor is GMS's status and exception name for an error code: the rows
// of gmsErrors, and 409 ConflictException for every other engine code (a
// callback's state does not allow the change now). docs/ERRORS.md shows it
// next to the other protocols.
func ErrorFor(code string) (status int, exception string) {
	if s, ok := gmsErrors[code]; ok {
		return s.status, s.exception
	}
	return http.StatusConflict, ExcConflict
}

// ErrorBody is every error response: {"message": ..., "exception": ...}.
type ErrorBody struct {
	Message   string `json:"message"`
	Exception string `json:"exception"`
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ge *gmsError
	var fe *formError
	var re *routing.Error
	status, exc, msg := http.StatusInternalServerError, ExcInternal, "internal error"
	switch {
	case errors.As(err, &ge):
		status, exc, msg = ge.status, ge.exception, ge.msg
	case errors.As(err, &fe):
		status, msg = fe.status, fe.msg
		switch fe.status {
		case http.StatusRequestEntityTooLarge:
			exc = ExcTooLarge
		case http.StatusUnsupportedMediaType:
			exc = ExcMediaType
		default:
			exc = ExcBadRequest
		}
	case errors.As(err, &re):
		msg = re.Message
		status, exc = ErrorFor(re.Code)
	case errors.Is(err, node.ErrClosed), errors.Is(err, node.ErrJournal), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		status, exc, msg = http.StatusServiceUnavailable, ExcUnavailable, "the routing node is not available"
	}
	if status >= 500 {
		s.log.Error("gms: request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="gms"`)
	}
	writeJSON(w, status, ErrorBody{Message: msg, Exception: exc})
}
