package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/qtk-dev/qtk/chattemplate"
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/serve"
	"github.com/qtk-dev/qtk/serving"
	"github.com/qtk-dev/qtk/tokenizer"
	"github.com/spf13/cobra"
)

// generatorFactory starts the engine `qtk serve` runs for a loaded model.
// ctx lives as long as the server, drain included.
type generatorFactory func(ctx context.Context, m *runtime.Model, tok *tokenizer.Tokenizer) (serving.Generator, error)

type serveOptions struct {
	addr         string
	name         string
	chatTemplate string
	ctxLen       int
	drain        time.Duration
}

// newEngineServeCmd returns `qtk serve` running qtk's serving engine, with
// the engine's flags (cache budget, draft model, ...).
func newEngineServeCmd() *cobra.Command {
	var engine engineFlags
	cmd := newServeCmd(func(ctx context.Context, m *runtime.Model, tok *tokenizer.Tokenizer) (serving.Generator, error) {
		e, err := engine.engine(m, tok, 0, compute.CPU)
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, e.Close)
		return e, nil
	})
	engine.register(cmd.Flags())
	return cmd
}

// newServeCmd returns `qtk serve`, running the engine newGenerator starts.
func newServeCmd(newGenerator generatorFactory) *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve MODEL",
		Short: "Serve a model over an OpenAI-compatible HTTP API",
		Long: `Serve a model over an OpenAI-compatible HTTP API:
POST /v1/completions and /v1/chat/completions (stream: true for server-sent
events), GET /v1/models, GET /health and GET /metrics (Prometheus text).
Chat completions render the model's chat template (chat_template.jinja or the
chat_template of tokenizer_config.json, or --chat-template FILE). SIGINT or
SIGTERM stops accepting connections and lets requests in flight finish for up
to --drain; a second signal exits at once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				// After the first signal, a second one gets the default
				// action: exit at once.
				<-ctx.Done()
				stop()
			}()
			return runServe(ctx, args[0], opts, newGenerator)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&opts.name, "name", "", "model name in the API (default: the model directory's name)")
	f.StringVar(&opts.chatTemplate, "chat-template", "", "Jinja chat template file to use instead of the model's")
	f.IntVar(&opts.ctxLen, "ctx", 0, "most prompt plus completion tokens per request (default: the model's max_position_embeddings)")
	f.DurationVar(&opts.drain, "drain", 30*time.Second, "on shutdown, how long requests in flight may run before they are cancelled")
	return cmd
}

func runServe(ctx context.Context, dir string, opts serveOptions, newGenerator generatorFactory) error {
	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return err
	}
	// The engine outlives the server's drain; it stops once Serve returns.
	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	h, err := newServeHandler(engineCtx, dir, opts, newGenerator)
	if err != nil {
		ln.Close()
		return err
	}
	logf("serving %s on http://%s", h.model, ln.Addr())
	if err := serve.Serve(ctx, ln, h, opts.drain); err != nil {
		return err
	}
	logf("drained; stopped")
	return nil
}

// servedModel is the API handler with the name it serves the model under.
type servedModel struct {
	*serve.Handler
	model string
}

// newServeHandler loads the model, its tokenizer and chat template, starts
// the engine and builds the API handler.
func newServeHandler(ctx context.Context, dir string, opts serveOptions, newGenerator generatorFactory) (*servedModel, error) {
	if opts.drain < 0 {
		return nil, fmt.Errorf("--drain must not be negative, got %v", opts.drain)
	}
	// The template first: a bad one fails before the model is loaded.
	tpl, err := chattemplate.LoadFile(dir, opts.chatTemplate)
	switch {
	case errors.Is(err, chattemplate.ErrNoTemplate):
		logf("%s has no chat template: /v1/chat/completions will answer 400 (pass --chat-template FILE to add one)", dir)
	case err != nil:
		return nil, fmt.Errorf("%w (pass --chat-template FILE to serve the model with another template)", err)
	}
	m, tok, err := loadModel(dir, compute.CPU)
	if err != nil {
		return nil, err
	}
	cfg := m.Config
	ctxLen := cfg.MaxPositions
	if opts.ctxLen != 0 {
		if opts.ctxLen < 2 || opts.ctxLen > cfg.MaxPositions {
			return nil, fmt.Errorf("--ctx must be between 2 and the model's %d positions, got %d", cfg.MaxPositions, opts.ctxLen)
		}
		ctxLen = opts.ctxLen
	}
	eos, err := serve.EOSTokens(dir, cfg.EOSTokenIDs)
	if err != nil {
		return nil, err
	}
	name := opts.name
	if name == "" {
		name = filepath.Base(filepath.Clean(dir))
	}
	gen, err := newGenerator(ctx, m, tok)
	if err != nil {
		return nil, err
	}
	h, err := serve.NewHandler(serve.Config{
		Model: name, Generator: gen, Tokenizer: tok, ChatTemplate: tpl, EOS: eos, ContextLength: ctxLen,
	})
	if err != nil {
		return nil, err
	}
	return &servedModel{Handler: h, model: name}, nil
}
