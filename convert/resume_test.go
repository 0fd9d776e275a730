package convert

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
)

// TestResumeWritesTheSameBytes interrupts a run after layer k, continues
// it with Resume, and compares every output file with an uninterrupted
// run's.
func TestResumeWritesTheSameBytes(t *testing.T) {
	ck := openTiny(t)
	tokens := calibrationTokens(t, ck)
	scheme := quant.Scheme{Bits: 4, GroupSize: 128}
	calibrated := func(m Method) Options {
		o := Options{Method: m, Format: hf.GPTQ, Scheme: scheme, Tokens: tokens}
		o.Calib.Samples, o.Calib.SeqLen = 2, 32
		return o
	}
	gptq := calibrated(GPTQ)
	gptq.GPTQ = GPTQOptions{ActOrder: true, TrueSequential: true}
	awq := calibrated(AWQ)
	awq.Format = hf.AWQ
	tests := []struct {
		name  string
		opts  Options
		after int // the layer (0-based) during which the run is interrupted
	}{
		{"rtn", Options{Method: RTN, Format: hf.GPTQ, Scheme: scheme, Clip: true, MaxShardBytes: 2_000_000}, 1},
		{"gptq", gptq, 0},
		{"awq", awq, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			whole := filepath.Join(dir, "whole")
			if _, err := Quantize(context.Background(), ck, whole, false, tt.opts); err != nil {
				t.Fatal(err)
			}

			resumed := filepath.Join(dir, "resumed")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			first := tt.opts
			first.Decided = func(_ model.Role, l int, _ *quant.Tensor) {
				if l == tt.after {
					cancel() // the layer in progress still finishes
				}
			}
			_, err := Quantize(ctx, ck, resumed, false, first)
			var stop *Interrupted
			if !errors.As(err, &stop) || !errors.Is(err, context.Canceled) || stop.Done != tt.after+1 {
				t.Fatalf("interrupted run: %v, want an interruption after %d layers", err, tt.after+1)
			}
			if _, err := os.Stat(resumed); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("output exists after an interruption: %v", err)
			}

			// What a run killed while writing the output files leaves.
			partial := filepath.Join(dir, ".resumed.partial")
			os.WriteFile(filepath.Join(partial, "model.safetensors"), []byte("half a file"), 0o644)
			os.WriteFile(filepath.Join(partial, ".model.safetensors.tmp-1"), []byte("half a file"), 0o644)

			again := tt.opts
			again.Resume = true
			var redone []int
			again.Decided = func(role model.Role, l int, _ *quant.Tensor) {
				if role == model.AttnQ {
					redone = append(redone, l)
				}
			}
			if _, err := Quantize(context.Background(), ck, resumed, false, again); err != nil {
				t.Fatal(err)
			}
			if len(redone) != ck.Config.NumLayers-tt.after-1 || redone[0] != tt.after+1 {
				t.Errorf("resumed run quantized layers %v, want %d onwards", redone, tt.after+1)
			}
			compareDirs(t, whole, resumed)
			if entries, _ := os.ReadDir(dir); len(entries) != 2 {
				t.Errorf("left behind beside the outputs: %v", entries)
			}
		})
	}
}

// compareDirs fails unless dirs a and b hold the same files with the same
// bytes.
func compareDirs(t *testing.T, a, b string) {
	t.Helper()
	ea, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := os.ReadDir(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ea) != len(eb) {
		t.Fatalf("%s holds %v, %s holds %v", a, ea, b, eb)
	}
	for i, e := range ea {
		if eb[i].Name() != e.Name() {
			t.Fatalf("%s holds %v, %s holds %v", a, ea, b, eb)
		}
		da, _ := os.ReadFile(filepath.Join(a, e.Name()))
		db, _ := os.ReadFile(filepath.Join(b, e.Name()))
		if !bytes.Equal(da, db) {
			t.Errorf("%s differs (%d and %d bytes)", e.Name(), len(da), len(db))
		}
	}
}

// TestResumeRefusesOtherInputs: a run is continued only with the model,
// method, options and calibration data it began with.
func TestResumeRefusesOtherInputs(t *testing.T) {
	ck := openTiny(t)
	tokens := calibrationTokens(t, ck)
	base := Options{Method: GPTQ, Format: hf.GPTQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 128}, Tokens: tokens}
	base.Calib.Samples, base.Calib.SeqLen = 2, 64
	dest := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	interrupted := base
	interrupted.Decided = func(model.Role, int, *quant.Tensor) { cancel() }
	if _, err := Quantize(ctx, ck, dest, false, interrupted); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}

	tests := []struct {
		name   string
		change func(o *Options)
		want   string
	}{
		{"method", func(o *Options) { o.Method, o.Tokens = AWQ, nil }, "method (awq, was gptq)"},
		{"group size", func(o *Options) { o.Scheme.GroupSize = 64 }, "option scheme"},
		{"samples", func(o *Options) { o.Calib.Samples = 3 }, "option calibration"},
		{"calibration text", func(o *Options) { o.Tokens = tokens[1:] }, "calibration data"},
		{"act-order", func(o *Options) { o.GPTQ.ActOrder = true }, "option gptq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := base
			tt.change(&opts)
			if opts.Method == AWQ {
				opts.Tokens = tokens
			}
			opts.Resume = true
			_, err := Quantize(context.Background(), ck, dest, false, opts)
			if err == nil || !strings.Contains(err.Error(), "cannot resume") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a refusal naming %q", err, tt.want)
			}
		})
	}
	t.Run("model", func(t *testing.T) {
		other := copyTiny(t)
		config, _ := os.ReadFile(filepath.Join(other, "config.json"))
		os.WriteFile(filepath.Join(other, "config.json"), bytes.Replace(config, []byte(`"rms_norm_eps": 1e-05`), []byte(`"rms_norm_eps": 1e-06`), 1), 0o644)
		ck2, err := model.Open(other)
		if err != nil {
			t.Fatal(err)
		}
		defer ck2.Close()
		opts := base
		opts.Resume = true
		_, err = Quantize(context.Background(), ck2, dest, false, opts)
		if err == nil || !strings.Contains(err.Error(), "different model") {
			t.Fatalf("error %v, want a refusal naming the model", err)
		}
	})
	// Without --resume or --force the interrupted run is not overwritten.
	if _, err := Quantize(context.Background(), ck, dest, false, base); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("error %v, want a pointer to --resume", err)
	}
	// --force starts over.
	if _, err := Quantize(context.Background(), ck, dest, true, base); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dest)); len(entries) != 1 {
		t.Fatalf("left behind beside the output: %v", entries)
	}
}

// copyTiny copies the bundled model into a temporary directory.
func copyTiny(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	if err := os.CopyFS(dir, os.DirFS(tinyLlama)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSaver: saves run in the background one at a time, their results
// are there once wait returns, a failed save is reported by the next
// wait and stops the saves queued after it.
func TestSaver(t *testing.T) {
	p, err := openPartial(filepath.Join(t.TempDir(), "out"), false, false, madeFrom{}, 3, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	x := [][]float32{{1, 2, 3}, {4, 5, 6}}
	s := newSaver()
	release := make(chan struct{})
	s.start(func() error {
		<-release // still running when start returns
		return p.saveInputs(1, x)
	})
	close(release)
	s.start(func() error { return p.saveInputs(2, x) }) // waits for the first
	if took, err := s.wait(); err != nil || took <= 0 {
		t.Fatalf("wait: %v, %v", took, err)
	}
	if exists(p.inputFile(1)) || !exists(p.inputFile(2)) {
		t.Errorf("inputs of layer 1 kept %v, of layer 2 saved %v; want false, true", exists(p.inputFile(1)), exists(p.inputFile(2)))
	}
	got := [][]float32{make([]float32, 3), make([]float32, 3)}
	if err := p.loadInputs(2, got); err != nil {
		t.Fatal(err)
	}
	if got[1][2] != 6 {
		t.Errorf("loaded %v, saved %v", got, x)
	}
	// A file where the inputs' folder should go makes the save fail.
	if err := os.RemoveAll(p.state); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.state, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.start(func() error { return p.saveInputs(3, x) })
	ran := false
	s.start(func() error { ran = true; return nil })
	if _, err := s.wait(); err == nil || ran {
		t.Errorf("a save into a removed folder reported %v; the save after it ran: %v", err, ran)
	}
	if _, err := s.wait(); err != nil {
		t.Errorf("a second wait: %v", err)
	}
}
