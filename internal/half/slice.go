package half

import (
	"encoding/binary"
	"math"
	"sync"
)

// The slice forms read and write little-endian bytes, the byte order of
// safetensors and GGUF files. Like copy, each converts as many values as fit
// in both dst and src and returns that count.

// f16Table maps every F16 bit pattern to its float32 value (256 KiB), built
// on first use.
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	t := new([1 << 16]float32)
	for h := range t {
		t[h] = F16ToF32(uint16(h))
	}
	return t
})

// F16ToF32Slice widens little-endian F16 values from src into dst.
func F16ToF32Slice(dst []float32, src []byte) int {
	n := min(len(dst), len(src)/2)
	dst, src = dst[:n], src[:2*n]
	t := f16Table()
	i := 0
	for ; i+4 <= n; i += 4 { // four values per 8-byte load
		v := binary.LittleEndian.Uint64(src[2*i:])
		d := dst[i : i+4 : i+4]
		d[0] = t[uint16(v)]
		d[1] = t[uint16(v>>16)]
		d[2] = t[uint16(v>>32)]
		d[3] = t[uint16(v>>48)]
	}
	for ; i < n; i++ {
		dst[i] = t[binary.LittleEndian.Uint16(src[2*i:])]
	}
	return n
}

// BF16ToF32Slice widens little-endian BF16 values from src into dst.
func BF16ToF32Slice(dst []float32, src []byte) int {
	n := min(len(dst), len(src)/2)
	dst, src = dst[:n], src[:2*n]
	i := 0
	for ; i+4 <= n; i += 4 { // four values per 8-byte load
		v := binary.LittleEndian.Uint64(src[2*i:])
		d := dst[i : i+4 : i+4]
		d[0] = math.Float32frombits(uint32(v) << 16)
		d[1] = math.Float32frombits(uint32(v>>16) << 16)
		d[2] = math.Float32frombits(uint32(v>>32) << 16)
		d[3] = math.Float32frombits(uint32(v>>48) << 16)
	}
	for ; i < n; i++ {
		dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
	return n
}

// F32ToF16Slice narrows src to little-endian F16 values in dst.
func F32ToF16Slice(dst []byte, src []float32) int {
	n := min(len(dst)/2, len(src))
	dst, src = dst[:2*n], src[:n]
	for i, f := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(f))
	}
	return n
}

// F32ToBF16Slice narrows src to little-endian BF16 values in dst.
func F32ToBF16Slice(dst []byte, src []float32) int {
	n := min(len(dst)/2, len(src))
	dst, src = dst[:2*n], src[:n]
	for i, f := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(f))
	}
	return n
}
