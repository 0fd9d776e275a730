package awq

import (
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

// fold folds the scales of group g into w in place, leaving the layer's
// function unchanged: the producer of the group's input is divided by s
// (a norm's weight, or the output rows and bias of a linear) and the
// group's linears are multiplied by s per input channel (llm-awq's
// scale_ln_fcs and scale_fc_fc).
func fold(cfg *model.Config, w *runtime.LayerWeights, prev model.Role, linears []model.Role, s []float32) {
	foldVectors(w, prev, s)
	foldLinears(cfg, w, prev, linears, s)
}

// foldVectors is fold's part of the norm, or of the producing linear's
// bias.
func foldVectors(w *runtime.LayerWeights, prev model.Role, s []float32) {
	v := tensor(w, prev)
	if _, linear := inputOf[prev]; linear {
		v = tensor(w, biasOf[prev])
	}
	for c := range v {
		v[c] /= s[c]
	}
}

// foldLinears is fold's part of the weight matrices: the producing
// linear's rows, where the producer is one, and the group's linears.
func foldLinears(cfg *model.Config, w *runtime.LayerWeights, prev model.Role, linears []model.Role, s []float32) {
	if _, linear := inputOf[prev]; linear {
		_, in := shape(cfg, prev)
		rows := tensor(w, prev)
		forRows(len(s), in, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				row := rows[c*in : (c+1)*in]
				for j := range row {
					row[j] /= s[c]
				}
			}
		})
	}
	for _, r := range linears {
		out, in := shape(cfg, r)
		m := tensor(w, r)
		forRows(out, in, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				row := m[o*in : (o+1)*in]
				for c, sc := range s {
					row[c] *= sc
				}
			}
		})
	}
}

// divideColumns divides every row of x by s, channel by channel: the
// inputs of a scaled linear.
func divideColumns(x, s []float32) {
	for r := 0; r < len(x); r += len(s) {
		row := x[r : r+len(s)]
		for c, sc := range s {
			row[c] /= sc
		}
	}
}
