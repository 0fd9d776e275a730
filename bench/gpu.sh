#!/usr/bin/env bash
# GPU checks and benchmarks of qtk, in one run on a machine with an NVIDIA
# GPU. It runs bin/qtk and bin/compute.test (and, for more checks and the
# decode stage, bin/gptq.test, bin/runtime.test, bin/awq.test), which the
# build stage makes with the Go toolchain, where there is one:
#   bench/gpu.sh OUT build                 (on a machine with Go)
#   bench/gpu.sh OUT check tiny decode …   (on the GPU machine, bin/ copied there)
# and the data under .data (DATA):
# wiki.valid.tokens (calibration),
# wiki.test.raw (perplexity) and, for the small stage, small-llama.
#
# QTK, COMPUTE_TEST and GPTQ_TEST override the binaries' paths.
#
# Usage: bench/gpu.sh OUTDIR [STAGE...]
# Stages (default: check tiny synth bench):
#   build  the static binaries of bin/ (CGO_ENABLED=0), with the local Go
#   check  the compute package's tests, GPU against CPU
#   tiny   tiny-llama quantized with RTN, GPTQ, AWQ on the CPU and the GPU, perplexity of each
#   small  the same for small-llama (needs $SMALL, default .data/small-llama)
#   synth  a Llama-2-7B-shaped checkpoint of $LAYERS layers (default 4)
#   bench  GPTQ and AWQ of it on the GPU, 128×512 calibration tokens, 4-bit,
#          group 128: the recipes of RECIPES (default: gptq-reference awq gptq-default;
#          also awq-fp32, AWQ's searches with float32 products instead of TF32)
#   awq    AWQ's device steps against the host's (bin/compute.test, and
#          bin/awq.test where built) and the time of each part of AWQ on a
#          Llama-2-7B-shaped layer (BenchmarkAWQLayer)
#   gemv   the 4-bit GEMV benchmark (decode, batch 1) at Llama-2-7B's shapes,
#          beside the same bytes read without arithmetic (read)
#   gemvvariants  the GEMV kernels against the float64 product (tests, chained
#          products with programmatic dependent launch), then timed beside
#          int4_gemv_1 at those shapes, graph replay, plain and with PDL (/pdl)
#   prefill  the tensor-core layout's tests (rows in blocks of 8, act order
#          through TestQuantLinear), then the dequantization of each layout
#          (BenchmarkInt4Dequantize) and a product of 16 to 512 rows four
#          ways (BenchmarkQuantPrefill)
#   sweep  GPTQ's column sweep and the Hessian's factorization on the GPU
#          against the CPU and the host path (tests), the sweep's time per
#          Llama-2-7B matrix on each (BenchmarkSweep) and the factorization's
#          on the device and through the host (BenchmarkFactorOnGPU)
#   decode batch-1 decoding on the GPU, the whole forward pass there: the runtime's
#          resident tests and decode-step benchmark (bin/runtime.test), the decode
#          step at Llama-2-7B's shape (bin/compute.test), tiny-llama's
#          greedy tokens on the CPU and the GPU, then a Llama-2-7B-shaped checkpoint
#          of $DECODE_LAYERS layers (default 32) rounded to INT4 (RTN, GPTQ layout,
#          group 128), its decode speed and weight bandwidth against the device's
#          copy bandwidth (measured with PyTorch when it is there, else $PEAK_BW,
#          default 3.0e12 bytes/s)
# Logs go to OUTDIR/gpu.log, one line per result to OUTDIR/summary.txt.
set -u
out=${1:?usage: bench/gpu.sh OUTDIR [STAGE...]}
shift
stages=${*:-check tiny synth bench}
mkdir -p "$out"
log=$out/gpu.log
summary=$out/summary.txt
qtk=${QTK:-bin/qtk}
data=${DATA:-.data}
calib=$data/wiki.valid.tokens
test=$data/wiki.test.raw
small=${SMALL:-$data/small-llama}
layers=${LAYERS:-4}
work=${WORK:-/tmp/qtk-gpu}
mkdir -p "$work"

note() { echo "$*" | tee -a "$summary"; }
# run NAME CMD...: runs CMD, its output into the log, and notes its time.
run() {
	local name=$1
	shift
	echo "=== $name: $*" >>"$log"
	local t0=$(date +%s%N)
	timeout "${STEP_TIMEOUT:-300}" "$@" >>"$log" 2>&1
	local rc=$?
	local t1=$(date +%s%N)
	note "$(printf '%-40s rc=%d %8.1fs' "$name" $rc "$(((t1 - t0) / 100000000))e-1")"
	return $rc
}
# ppl MODEL DEVICE: perplexity of the full test text, hf protocol.
ppl() {
	local v
	v=$($qtk eval ppl "$1" --data "$test" --protocol hf --device "$2" --json 2>>"$log" | sed -n 's/.*"ppl": *\([0-9.]*\).*/\1/p')
	note "$(printf 'ppl %-50s %-6s %s' "$1" "$2" "$v")"
}
# quantize NAME MODEL DEVICE METHOD ARGS...: quantize into $work/NAME-DEVICE.
quantize() {
	local name=$1 model=$2 dev=$3 method=$4
	shift 4
	run "$name $dev" $qtk quantize "$method" "$model" -o "$work/$name-$dev" --force --device "$dev" --calib "$calib" "$@"
}

# greedy DEVICE: tiny-llama's greedy continuation of a fixed prompt, as ids.
greedy() {
	$qtk generate testdata/models/tiny-llama -p "The capital of France is" -n 32 --device "$1" --json 2>>"$log" | sed -n 's/.*"ids":\(\[[^]]*\]\).*/\1/p'
}
# copy_bw: device-to-device copy bandwidth in bytes/s (read + written), by PyTorch.
copy_bw() {
	python3 - 2>>"$log" <<'EOF'
import torch
n = 1 << 28  # 1 GiB of float32
a = torch.ones(n, device="cuda")
b = torch.empty_like(a)
for _ in range(3):
    b.copy_(a)
start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
start.record()
for _ in range(20):
    b.copy_(a)
end.record()
torch.cuda.synchronize()
print(2 * 4 * n * 20 / (start.elapsed_time(end) / 1e3))
EOF
}
# field NAME FILE: a number of a bench --json output.
field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" "$2"; }

note "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || true); $(nproc) cores"
for stage in $stages; do
	case $stage in
	check)
		run "compute tests (GPU vs CPU)" "${COMPUTE_TEST:-bin/compute.test}" -test.v
		# The device layer against the CPU runtime, and GPTQ's calibration
		# on the device against the CPU runtime's, where built (from the
		# package's folder: the tests read ../testdata).
		for pkg in runtime convert; do
			if [ -x "bin/$pkg.test" ]; then
				run "$pkg resident tests (GPU vs CPU)" bash -c "cd $pkg && ../bin/$pkg.test -test.v -test.run Resident"
			fi
		done
		# AWQ's searches on the device against the host's, where built.
		if [ -x bin/awq.test ]; then
			run "awq tests (GPU vs CPU)" bash -c "cd awq && ../bin/awq.test -test.v -test.run GPU"
		fi
		;;
	sweep)
		gptqtest=${GPTQ_TEST:-bin/gptq.test}
		run "gptq sweep tests (GPU vs CPU)" "$gptqtest" -test.v -test.run 'DeviceSweep|OnGPU|OnSweeper|DeviceFactor|FactorOnDevice'
		run "gptq sweep and factor benchmarks" "$gptqtest" -test.run '^$' -test.bench 'BenchmarkSweep|BenchmarkFactorOnGPU' -test.benchtime 3x
		grep -E "^BenchmarkSweep|^BenchmarkFactorOnGPU|differing|--- FAIL|^FAIL" "$log" | tail -40 | tee -a "$summary"
		;;
	tiny | small)
		model=testdata/models/tiny-llama
		[ "$stage" = small ] && model=$small
		ppl "$model" cpu
		ppl "$model" cuda
		for dev in cpu cuda; do
			run "$stage rtn $dev" $qtk quantize rtn "$model" -o "$work/$stage-rtn-$dev" --force --device "$dev"
			quantize "$stage-gptq" "$model" "$dev" gptq
			quantize "$stage-awq" "$model" "$dev" awq --format awq
		done
		for m in rtn gptq awq; do
			for dev in cpu cuda; do
				ppl "$work/$stage-$m-$dev" cpu
			done
		done
		# AWQ's searches with float32 products instead of TF32.
		quantize "$stage-awq-fp32" "$model" cuda awq --format awq --tf32=false
		ppl "$work/$stage-awq-fp32-cuda" cpu
		;;
	awq)
		run "awq device tests (GPU vs CPU)" "${COMPUTE_TEST:-bin/compute.test}" -test.v -test.run 'AWQ|FakeQuant|ClipLosses|WindowAttention|StackedLinear'
		if [ -x bin/awq.test ]; then
			run "awq tests (GPU vs CPU)" bash -c "cd awq && ../bin/awq.test -test.v -test.run GPU"
		fi
		run "awq layer benchmark" "${COMPUTE_TEST:-bin/compute.test}" -test.run '^$' -test.bench AWQLayer -test.benchtime 3x
		grep -E "^BenchmarkAWQLayer|--- FAIL|^FAIL" "$log" | tail -12 | tee -a "$summary"
		;;
	build)
		run "build qtk" env CGO_ENABLED=0 go build -ldflags=-s -o bin/qtk ./cmd/qtk
		for pkg in compute gptq runtime awq; do
			run "build $pkg tests" env CGO_ENABLED=0 go test -c -ldflags=-s -o "bin/$pkg.test" "./$pkg"
		done
		;;
	gemv)
		run "int4 gemv benchmark" "${COMPUTE_TEST:-bin/compute.test}" -test.run XXX -test.bench QuantGEMV -test.benchtime "${GEMV_BENCHTIME:-2s}" -test.v
		grep -E "GB/s|device-to-device" "$log" | tail -10 | tee -a "$summary"
		;;
	gemvvariants)
		run "int4 gemv variants tests (GPU vs float64)" "${COMPUTE_TEST:-bin/compute.test}" -test.v -test.run 'QuantGEMVVariants|QuantGEMVChained|QuantLinear'
		grep -E -- "--- FAIL|want <|programmatic|graph (true|false)|^(PASS|FAIL)$" "$log" | tail -30 | tee -a "$summary"
		run "int4 gemv variants benchmark" "${COMPUTE_TEST:-bin/compute.test}" -test.run XXX -test.bench QuantGEMVVariants -test.benchtime "${GEMV_BENCHTIME:-2s}" -test.v
		grep -E "^BenchmarkQuantGEMVVariants|device-to-device|programmatic" "$log" | tail -70 | tee -a "$summary"
		;;
	prefill)
		run "int4 tensor-core layout tests" "${COMPUTE_TEST:-bin/compute.test}" -test.v -test.run 'Int4MMARows|QuantLinear|QuantGEMVChained'
		grep -E -- "--- FAIL|want <|^(PASS|FAIL)$" "$log" | tail -20 | tee -a "$summary"
		run "int4 dequantize and prefill benchmarks" "${COMPUTE_TEST:-bin/compute.test}" -test.run XXX -test.bench 'Int4Dequantize|QuantPrefill' -test.benchtime 100x
		grep -E "^Benchmark(Int4Dequantize|QuantPrefill)|device-to-device" "$log" | tail -40 | tee -a "$summary"
		;;
	synth)
		run "synth llama-2-7b, $layers layers" $qtk synth --like llama-2-7b --layers "$layers" -o "$work/l2-7b" --force
		;;
	bench)
		nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$work/smi.csv" 2>/dev/null &
		smi=$!
		for recipe in ${RECIPES:-gptq-reference awq gptq-default}; do
			case $recipe in
			gptq-reference) quantize 7b-$recipe "$work/l2-7b" cuda gptq --act-order=false --clip=false --refit-scales=false ;;
			gptq-default) quantize 7b-$recipe "$work/l2-7b" cuda gptq ;;
			awq) quantize 7b-$recipe "$work/l2-7b" cuda awq --format awq ;;
			awq-fp32) quantize 7b-$recipe "$work/l2-7b" cuda awq --format awq --tf32=false ;;
			esac
			grep -E "layer [0-9]+/[0-9]+ quantized|peak|wrote" "$log" | tail -$((layers + 2)) | tee -a "$summary"
			# Where each layer's time went: waiting for its weights, the
			# passes and quantization (by stage), the activations' download,
			# the save running beside the next layer.
			sed -n "/=== 7b-$recipe cuda/,\$p" "$log" | grep -E "msg=\"(layer [0-9]+(:| saved)|gptq: \[)" | grep -v "swept on" | tee -a "$summary"
		done
		kill $smi
		note "nvidia-smi peak memory.used MiB: $(sort -n "$work/smi.csv" | tail -1)"
		;;
	decode)
		# The whole forward pass on the GPU against the CPU runtime (float32
		# and quantized checkpoints), and a decode step's fixed cost, where
		# bin/runtime.test is built (from the package's folder: the tests
		# read ../testdata).
		if [ -x bin/runtime.test ]; then
			run "runtime resident tests (GPU vs CPU)" bash -c "cd runtime && ../bin/runtime.test -test.v -test.run 'Resident|QuantizedCheckpoint'"
			run "resident decode step, tiny-llama" bash -c "cd runtime && ../bin/runtime.test -test.run XXX -test.bench ResidentDecodeStep -test.benchtime 2s"
			grep -E "^BenchmarkResidentDecodeStep" "$log" | tail -1 | tee -a "$summary"
		fi
		# The decode step's kernels at Llama-2-7B's shape (4 layers, random
		# INT4 weights, float16 head), launched one by one and recorded,
		# with programmatic dependent launch or not, and recorded with every
		# product in one GEMV layout (step/<layout>).
		run "decode step at llama-2-7b's shape" "${COMPUTE_TEST:-bin/compute.test}" -test.v -test.run 'DecodeStep|HalfLinear' -test.bench DecodeStep -test.benchtime "${STEP_BENCHTIME:-200x}"
		grep -E "^BenchmarkDecodeStep|programmatic|--- FAIL" "$log" | tail -14 | tee -a "$summary"
		cpu_ids=$(greedy cpu)
		cuda_ids=$(greedy cuda)
		note "greedy tiny-llama cpu:  $cpu_ids"
		note "greedy tiny-llama cuda: $cuda_ids ($([ -n "$cpu_ids" ] && [ "$cpu_ids" = "$cuda_ids" ] && echo same || echo DIFFERENT))"
		dl=${DECODE_LAYERS:-32}
		d7b=$work/l2-7b-$dl
		run "synth llama-2-7b, $dl layers" $qtk synth --like llama-2-7b --layers "$dl" -o "$d7b" --force
		run "rtn int4 (gptq layout) of it" $qtk quantize rtn "$d7b" -o "$d7b-rtn" --force --device cuda
		json=$out/decode.json
		run "bench batch-1 decode cuda" sh -c "$qtk bench $d7b-rtn --device cuda --concurrency 1 --requests 8 --prompt-len 128 --gen-len 128 --lengths fixed --json >$json"
		bw=$(copy_bw)
		peak=${bw:-${PEAK_BW:-3.0e12}} against="measured copy bandwidth"
		[ -n "$bw" ] || against=PEAK_BW
		bps=$(field weight_bytes_per_s "$json")
		note "decode: $(field weight_bytes_per_token "$json") weight bytes/token, p50 $(sed -n 's/.*"ms_per_token":{"p50":\([0-9.e+-]*\).*/\1/p' "$json") ms/token, prefill $(field prefill_tokens_per_s "$json") tokens/s"
		note "decode weight bandwidth $(awk "BEGIN{printf \"%.1f GB/s = %.3f of %.1f GB/s\", ${bps:-0}/1e9, ${bps:-0}/$peak, $peak/1e9}" </dev/null) ($against)"
		;;
	*)
		echo "unknown stage $stage" >&2
		exit 2
		;;
	esac
done
