package convert

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"

	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
)

// madeFrom identifies everything a quantization run's result depends on,
// so that an interrupted run is continued only with the inputs it began
// with.
type madeFrom struct {
	Model       string   `json:"model"`
	Method      Method   `json:"method"`
	Settings    settings `json:"options"`
	Calibration string   `json:"calibration_tokens"` // empty for RTN
	QTK         string   `json:"qtk"`
}

// settings are the Options that shape the output.
type settings struct {
	Format        hf.Format         `json:"format"`
	Scheme        quant.Scheme      `json:"scheme"`
	Calib         calibrate.Options `json:"calibration"`
	Clip          bool              `json:"clip"`
	GPTQ          GPTQOptions       `json:"gptq"`
	AWQThenGPTQ   bool              `json:"awq_then_gptq"`
	MaxShardBytes int64             `json:"max_shard_bytes"`
}

// sampledBytes is how much of each end of every weight tensor the model
// digest reads: enough to tell two fine-tunes of one architecture apart
// without reading gigabytes.
const sampledBytes = 64 << 10

// newMadeFrom describes a run of opts on ck.
func newMadeFrom(ck *model.Checkpoint, opts *Options) (madeFrom, error) {
	digest, err := modelDigest(ck)
	if err != nil {
		return madeFrom{}, err
	}
	m := madeFrom{
		Model:  digest,
		Method: opts.Method,
		Settings: settings{
			Format: opts.Format, Scheme: opts.Scheme, Clip: opts.Clip, GPTQ: opts.GPTQ,
			AWQThenGPTQ: opts.AWQThenGPTQ, MaxShardBytes: opts.MaxShardBytes,
		},
		QTK: buildID(),
	}
	if opts.Method != RTN {
		m.Settings.Calib = opts.Calib.WithDefaults()
		h := sha256.New()
		for _, id := range opts.Tokens {
			h.Write(binary.LittleEndian.AppendUint32(nil, uint32(id)))
		}
		m.Calibration = hex.EncodeToString(h.Sum(nil))
	}
	return m, nil
}

// modelDigest hashes config.json and, for every stored tensor, its name,
// dtype, shape and the first and last sampledBytes of its data.
func modelDigest(ck *model.Checkpoint) (string, error) {
	h := sha256.New()
	configPath := filepath.Join(ck.Dir, "config.json")
	config, err := os.ReadFile(configPath)
	if err != nil {
		return "", err
	}
	writeField(h, config)
	tensors, err := ck.StoredTensors()
	if err != nil {
		return "", err
	}
	for _, t := range tensors {
		writeField(h, []byte(fmt.Sprintf("%s %s %v %d", t.Name, t.DType, t.Shape, len(t.Data))))
		n := min(len(t.Data), sampledBytes)
		writeField(h, t.Data[:n])
		writeField(h, t.Data[len(t.Data)-n:])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeField hashes b with its length, so that fields cannot run together.
func writeField(h hash.Hash, b []byte) {
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(b))))
	h.Write(b)
}

// buildID names the qtk build: module version and VCS revision where the
// binary records them.
func buildID() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	id := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
			id += " " + s.Key + "=" + s.Value
		}
	}
	return id
}

// differences names the parts of m that differ from the run that made
// other, or returns nil when they match.
func (m madeFrom) differences(other madeFrom) []string {
	var diff []string
	if m.Model != other.Model {
		diff = append(diff, "model")
	}
	if m.Method != other.Method {
		diff = append(diff, fmt.Sprintf("method (%s, was %s)", m.Method, other.Method))
	}
	for _, key := range differingKeys(m.Settings, other.Settings) {
		diff = append(diff, "option "+key)
	}
	if m.Calibration != other.Calibration {
		diff = append(diff, "calibration data")
	}
	if m.QTK != other.QTK {
		diff = append(diff, fmt.Sprintf("qtk build (%q, was %q)", m.QTK, other.QTK))
	}
	return diff
}

// differingKeys lists, sorted, the JSON keys whose values differ between
// a and b.
func differingKeys(a, b any) []string {
	var ma, mb map[string]any
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	json.Unmarshal(ja, &ma)
	json.Unmarshal(jb, &mb)
	var keys []string
	for k, v := range ma {
		if !reflect.DeepEqual(v, mb[k]) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
