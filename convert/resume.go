package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qtk-dev/qtk/formats/safetensors"
)

// A run writes into a hidden directory beside its output, renamed into
// place when complete. Under its resume/ folder it keeps what an
// interrupted run needs to continue:
//
//	manifest.json               what the run is made from (madeFrom)
//	layer-NNNN/model.safetensors  the finished tensors of layer NNNN
//	input-NNNN/model.safetensors  the calibration activations entering layer NNNN
//
// Each file appears by rename once complete, and a layer counts as done
// only when the activations entering the next one are saved too, so a run
// stopped at any point, even killed, continues from its last whole layer.
const (
	resumeFolder = "resume"
	manifestName = "manifest.json"
)

// partial is the hidden directory of a run in progress.
type partial struct {
	dir   string // the hidden directory, renamed to the output when complete
	state string // dir/resume
}

// partialDir is the hidden directory of the run writing dest.
func partialDir(dest string) string {
	dest = filepath.Clean(dest)
	return filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".partial")
}

// manifest is resume/manifest.json.
type manifest struct {
	MadeFrom madeFrom `json:"made_from"`
	Layers   int      `json:"layers"`
}

// openPartial prepares the hidden directory for a run making dest. An
// interrupted run's directory is continued with resume, replaced with
// force, and otherwise refused; resume without one starts afresh.
func openPartial(dest string, force, resume bool, from madeFrom, layers int, logf func(string, ...any)) (*partial, error) {
	if info, err := os.Stat(dest); err == nil {
		if !force {
			return nil, fmt.Errorf("%s: already exists (use --force to replace it)", dest)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("%s: exists and is not a directory", dest)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: cannot create the output: %w", dest, errors.Unwrap(err))
	}
	p := &partial{dir: partialDir(dest)}
	p.state = filepath.Join(p.dir, resumeFolder)
	if _, err := os.Lstat(p.dir); err == nil {
		switch {
		case resume:
			return p, p.check(from, layers)
		case force:
			if err := os.RemoveAll(p.dir); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: holds an interrupted run for %s (continue it with --resume, or start over with --force)", p.dir, dest)
		}
	} else if resume {
		logf("%s: no interrupted run to resume; starting at the first layer", dest)
	}
	if err := os.Mkdir(p.dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: cannot create the output: %w", dest, errors.Unwrap(err))
	}
	if err := os.Mkdir(p.state, 0o755); err != nil {
		p.remove()
		return nil, err
	}
	data, err := json.MarshalIndent(manifest{MadeFrom: from, Layers: layers}, "", "  ")
	if err == nil {
		err = writeFileAtomic(filepath.Join(p.state, manifestName), append(data, '\n'))
	}
	if err != nil {
		p.remove()
		return nil, err
	}
	return p, nil
}

// check refuses to continue a run made from other inputs.
func (p *partial) check(from madeFrom, layers int) error {
	path := filepath.Join(p.state, manifestName)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: not an interrupted qtk run: %w", p.dir, errors.Unwrap(err))
	}
	var saved manifest
	if err := json.Unmarshal(data, &saved); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if diff := from.differences(saved.MadeFrom); len(diff) > 0 || saved.Layers != layers {
		if saved.Layers != layers {
			diff = append(diff, fmt.Sprintf("layer count (%d, was %d)", layers, saved.Layers))
		}
		return fmt.Errorf("%s: cannot resume, the interrupted run had a different %s (start over with --force)", p.dir, strings.Join(diff, ", "))
	}
	return nil
}

// layersDone counts the finished layers a run can continue after.
func (p *partial) layersDone(layers int, calibrated bool) int {
	done := 0
	for done < layers && exists(p.layerFile(done)) {
		done++
	}
	for calibrated && done > 0 && done < layers && !exists(p.inputFile(done)) {
		done--
	}
	return done
}

func (p *partial) layerFile(l int) string {
	return filepath.Join(p.state, fmt.Sprintf("layer-%04d", l), safetensors.SingleFileName)
}

func (p *partial) inputFile(l int) string {
	return filepath.Join(p.state, fmt.Sprintf("input-%04d", l), safetensors.SingleFileName)
}

// saveLayer writes the finished tensors of layer l.
func (p *partial) saveLayer(l int, tensors []tensorData) error {
	return writeSafetensors(filepath.Dir(p.layerFile(l)), tensors)
}

// activationsTensor names the one tensor of an input-NNNN file:
// [windows, tokens × hidden] float32.
const activationsTensor = "hidden_states"

// saver runs saves in the background, one at a time.
type saver struct{ done chan saveResult }

type saveResult struct {
	took time.Duration
	err  error
}

func newSaver() *saver {
	s := &saver{done: make(chan saveResult, 1)}
	s.done <- saveResult{}
	return s
}

// start runs save in the background once the previous save is over,
// unless that one failed; what save reads must not change until wait
// returns.
func (s *saver) start(save func() error) {
	prev := <-s.done
	go func() {
		if prev.err != nil {
			s.done <- prev
			return
		}
		start := time.Now()
		err := save()
		s.done <- saveResult{time.Since(start), err}
	}()
}

// wait waits for the save in flight and returns how long it took and its
// error, or the error of a save before it that stopped it; later waits
// return 0 and nil.
func (s *saver) wait() (time.Duration, error) {
	r := <-s.done
	s.done <- saveResult{}
	return r.took, r.err
}

// saveInputs writes the activations entering layer l, a window at a time,
// and drops those entering layer l-1.
func (p *partial) saveInputs(l int, x [][]float32) error {
	dir := filepath.Dir(p.inputFile(l))
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	w, err := safetensors.NewWriter(dir, safetensors.WriterOptions{})
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := w.Declare(activationsTensor, safetensors.F32, []int{len(x), len(x[0])}); err != nil {
		return err
	}
	out, err := w.Create(activationsTensor)
	if err != nil {
		return err
	}
	row := make([]byte, 4*len(x[0]))
	for _, window := range x {
		for i, v := range window {
			putF32(row[4*i:], v)
		}
		if _, err := out.Write(row); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if l > 0 {
		return os.RemoveAll(filepath.Dir(p.inputFile(l - 1)))
	}
	return nil
}

// loadInputs reads the activations entering layer l into x, whose shape
// they must have.
func (p *partial) loadInputs(l int, x [][]float32) error {
	path := p.inputFile(l)
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	t, ok := f.Tensor(activationsTensor)
	if !ok || t.DType != safetensors.F32 || len(t.Shape) != 2 || t.Shape[0] != len(x) || t.Shape[1] != len(x[0]) {
		return fmt.Errorf("%s: want F32 %s of shape [%d %d]", path, activationsTensor, len(x), len(x[0]))
	}
	rowBytes := 4 * len(x[0])
	for i, window := range x {
		row := t
		row.Shape, row.Data = []int{len(window)}, t.Data[i*rowBytes:(i+1)*rowBytes]
		if err := row.Float32Into(window); err != nil {
			return err
		}
	}
	return nil
}

// clearOutputs removes what an earlier attempt at writing the output files,
// killed before it completed, left beside the resume folder.
func (p *partial) clearOutputs() error {
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == resumeFolder {
			continue
		}
		if err := os.RemoveAll(filepath.Join(p.dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// dropState removes the resume folder before the output is renamed into
// place.
func (p *partial) dropState() error { return os.RemoveAll(p.state) }

// remove deletes the hidden directory and everything in it.
func (p *partial) remove() { os.RemoveAll(p.dir) }

// writeSafetensors writes tensors, in order, as dir/model.safetensors,
// replacing what an earlier attempt left in dir.
func writeSafetensors(dir string, tensors []tensorData) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	w, err := safetensors.NewWriter(dir, safetensors.WriterOptions{})
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, t := range tensors {
		if err := w.Declare(t.name, t.dtype, t.shape); err != nil {
			return err
		}
	}
	for _, t := range tensors {
		if err := w.WriteTensor(t.name, t.data); err != nil {
			return err
		}
	}
	return w.Close()
}

// writeFileAtomic writes path through a temporary file in its directory.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
