package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Serve answers requests on ln with h until ctx ends, then drains: it stops
// accepting connections and waits up to drain for requests in flight to
// finish. Requests still running after that are cancelled (their sequences
// end and free their cache pages) and Serve returns an error saying so.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, drain time.Duration) error {
	// Every request context derives from base, so cancelling it ends the
	// sequences of requests that outlive the drain.
	base, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	srv := &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 30 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), drain)
	defer cancelDrain()
	err := srv.Shutdown(drainCtx)
	if err != nil {
		cancelRequests()
		srv.Close()
		err = fmt.Errorf("requests still running after %v were cancelled: %w", drain, err)
	}
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}
