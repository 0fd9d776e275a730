package convert

import (
	"time"

	"github.com/qtk-dev/qtk/awq"
	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

// quantizeAWQOnDevice is AWQ with the calibration activations on the
// device: its searches read them there, and they are advanced on the
// device through the float layer, as the reference advances them (by
// awq.Layer's own pass over the tokens where its searches ran on the
// device). acts gives the windows' shapes (awq.Layer checks them).
func quantizeAWQOnDevice(cfg *model.Config, w *runtime.LayerWeights, acts *calibrate.Activations, dev *deviceCalibration, opts *Options) (decisions, error) {
	float := *w // awq.Layer replaces w's slices, never writes them
	res, err := awq.Layer(cfg, w, acts, awq.Options{
		Scheme: opts.Scheme, Clip: opts.Clip, Backend: opts.Backend, TF32: opts.AWQTF32, Log: opts.Log,
		DeviceInputs: dev.x, AdvanceDeviceInputs: true, RoundOnDevice: true,
	})
	if err != nil {
		return nil, err
	}
	if res.DeviceInputsAdvanced {
		opts.logf("awq: activations advanced on the device in the float layer's pass")
		return res.Tensors, nil
	}
	dl := dev.layer(&float)
	defer dl.release()
	start := time.Now()
	if err := dl.advance(); err != nil {
		return nil, err
	}
	opts.logf("awq: activations advanced on the device in %.2fs", time.Since(start).Seconds())
	return res.Tensors, nil
}
