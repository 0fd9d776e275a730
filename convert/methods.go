package convert

import (
	"fmt"
	"time"

	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/gptq"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/runtime"
)

// decisions are the quantized weights of one layer's linear roles.
type decisions map[model.Role]*quant.Tensor

// quantizeRTN rounds every linear of a layer to nearest.
func quantizeRTN(cfg *model.Config, w *runtime.LayerWeights, opts *Options) (decisions, error) {
	out := decisions{}
	for _, role := range linearRoles {
		rows, cols := shapeOf(cfg, role)
		t, err := quant.RTN(*weightOf(w, role), rows, cols, opts.Scheme, quant.RTNOptions{Clip: clipSearch(opts.Clip)})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", role, err)
		}
		out[role] = t
	}
	return out, nil
}

// gptqStages groups a layer's projections by the input they read. With
// true-sequential order each stage is calibrated on the outputs of the
// stages before it, already quantized.
func gptqStages(trueSequential bool) [][]model.Role {
	if trueSequential {
		return [][]model.Role{
			{model.AttnK, model.AttnV, model.AttnQ},
			{model.AttnO},
			{model.FFNUp, model.FFNGate},
			{model.FFNDown},
		}
	}
	return [][]model.Role{linearRoles}
}

// inputOf names the input a role reads, as resident layers name it.
func inputOf(role model.Role) string {
	switch role {
	case model.AttnQ, model.AttnK, model.AttnV:
		return compute.InputQKV
	case model.AttnO:
		return compute.InputO
	case model.FFNGate, model.FFNUp:
		return compute.InputGateUp
	default:
		return compute.InputDown
	}
}

// stageHessians returns an empty Hessian for each input the roles of a
// stage read, named as inputOf names them.
func stageHessians(cfg *model.Config, stage []model.Role, be compute.Backend) map[string]*gptq.Hessian {
	hessians := map[string]*gptq.Hessian{}
	for _, role := range stage {
		if name := inputOf(role); hessians[name] == nil {
			_, in := shapeOf(cfg, role)
			hessians[name] = gptq.NewHessianOn(be, in)
		}
	}
	return hessians
}

// quantizeGPTQ runs GPTQ on every linear of a layer. Each stage's Hessians
// come from one calibration pass of the layer in which the stages before
// it are already quantized; w is updated to the dequantized weights. With
// dev the passes run on the device over its activations, and dev's
// projections follow w stage by stage.
func quantizeGPTQ(cfg *model.Config, w *runtime.LayerWeights, acts *calibrate.Activations, dev *deviceLayer, opts *Options) (decisions, error) {
	out := decisions{}
	for _, stage := range gptqStages(opts.GPTQ.TrueSequential) {
		hessians := stageHessians(cfg, stage, opts.Backend)
		passStart := time.Now()
		var err error
		if dev != nil {
			err = dev.observe(hessians)
		} else {
			err = observeHessians(cfg, *w, acts, hessians, opts.Backend)
		}
		if err != nil {
			return nil, err
		}
		pass := time.Since(passStart)
		quantStart := time.Now()
		for _, role := range stage {
			rows, cols := shapeOf(cfg, role)
			res, err := gptq.Quantize(*weightOf(w, role), rows, cols, hessians[inputOf(role)], gptq.Options{
				Scheme:       opts.Scheme,
				Damp:         opts.GPTQ.Damp,
				BlockSize:    opts.GPTQ.BlockSize,
				ActOrder:     opts.GPTQ.ActOrder,
				StaticGroups: opts.GPTQ.StaticGroups,
				Clip:         clipSearch(opts.Clip),
				RefitScales:  opts.GPTQ.RefitScales,
				Backend:      opts.Backend,
				Log:          opts.Log,
			})
			if err != nil {
				releaseAll(hessians)
				return nil, fmt.Errorf("%s: %w", role, err)
			}
			out[role] = res.Tensor
			*weightOf(w, role) = res.Tensor.Dequantize()
		}
		releaseAll(hessians)
		quantized := time.Since(quantStart)
		if dev != nil {
			updateStart := time.Now()
			if err := dev.update(stage); err != nil {
				return nil, err
			}
			opts.logf("gptq: %v: calibration pass %.2fs, quantization %.2fs, quantized weights to the device %.2fs", stage, pass.Seconds(), quantized.Seconds(), time.Since(updateStart).Seconds())
			continue
		}
		opts.logf("gptq: %v: calibration pass %.2fs, quantization %.2fs", stage, pass.Seconds(), quantized.Seconds())
	}
	return out, nil
}

// observe runs the layer of weights w over the calibration activations
// on be, calling hooks.
func observe(cfg *model.Config, w runtime.LayerWeights, acts *calibrate.Activations, hooks *runtime.Hooks, be compute.Backend) error {
	ly, err := runtime.NewLayerOn(be, cfg, w)
	if err != nil {
		return err
	}
	defer ly.Release()
	return acts.Observe(ly, hooks)
}

// observeHessians accumulates the Hessians of a layer's stage over the
// calibration activations, its projections running on be. The pass only
// observes: it stops after the stage's inputs. On failure the Hessians are
// released.
func observeHessians(cfg *model.Config, w runtime.LayerWeights, acts *calibrate.Activations, hessians map[string]*gptq.Hessian, be compute.Backend) error {
	err := observe(cfg, w, acts, hessianHooks(hessians), be)
	for _, h := range hessians {
		if err == nil {
			err = h.Err()
		}
	}
	if err != nil {
		releaseAll(hessians)
	}
	return err
}

// releaseAll frees the Hessians' device memory.
func releaseAll(hessians map[string]*gptq.Hessian) {
	for _, h := range hessians {
		h.Release()
	}
}

// clipSearch returns the default MSE clip search when on, else nil.
func clipSearch(on bool) *quant.ClipSearch {
	if !on {
		return nil
	}
	return &quant.ClipSearch{}
}
