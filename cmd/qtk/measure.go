package main

import (
	"fmt"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/eval"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/report"
)

// measure describes the model at path (a checkpoint directory or a GGUF
// file) for a report and, with settings, measures its perplexity on text,
// the model running on be.
func measure(path string, text string, settings *report.EvalSettings, be compute.Backend) (report.Variant, error) {
	w, tok, err := openModel(path)
	if err != nil {
		return report.Variant{}, err
	}
	defer w.Close()
	var v report.Variant
	if ck, ok := w.(*model.Checkpoint); ok {
		v, err = report.Describe(ck)
	} else {
		v, err = report.DescribeFile(path, "gguf", w.ModelConfig().ParamCount())
	}
	if err != nil || settings == nil {
		return v, err
	}
	m, tok, err := loadWeights(path, w, tok, be)
	if err != nil {
		return v, err
	}
	tokens := tok.Encode(text, true)
	logf("%s: %d tokens of %s", v.Name, len(tokens), settings.Data)
	bos, addBOS := tok.BOS()
	res, err := eval.Perplexity(m, tokens, eval.Options{
		Protocol:   settings.Protocol,
		Ctx:        settings.Ctx,
		MaxWindows: settings.MaxWindows,
		BOS:        bos,
		AddBOS:     addBOS,
		Progress:   showProgress.Prefixed(v.Name),
	})
	if err != nil {
		return v, fmt.Errorf("%s: %w", settings.Data, err)
	}
	v.Perplexity = &res
	logf("%s: ppl %.4f (%d windows, %.0f tokens/s)", v.Name, res.PPL, res.Windows, res.TokensPerSecond)
	return v, nil
}
