package tokenizer

// The byte-level alphabet of GPT-2: every byte is shown as a printable
// character. Printable Latin-1 bytes stand for themselves; the others
// (controls, space, 0x7F-0xA0, 0xAD) take the characters from U+0100 on,
// in byte order. So ' ' is 'Ġ' (U+0120) and '\n' is 'Ċ' (U+010A).
var (
	byteToChar [256]rune
	charToByte = make(map[rune]byte, 256)
	// byteToCharStr holds the UTF-8 form of byteToChar, to build strings
	// without encoding each time.
	byteToCharStr [256]string
)

func init() {
	next := rune(256)
	for b := 0; b < 256; b++ {
		printable := b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE
		if printable {
			byteToChar[b] = rune(b)
		} else {
			byteToChar[b] = next
			next++
		}
		charToByte[byteToChar[b]] = byte(b)
		byteToCharStr[b] = string(byteToChar[b])
	}
}

// toByteLevel returns s with every byte replaced by its byte-level character.
func toByteLevel(s string) string {
	buf := make([]byte, 0, len(s)*2)
	for i := 0; i < len(s); i++ {
		buf = append(buf, byteToCharStr[s[i]]...)
	}
	return string(buf)
}

// fromByteLevel returns the bytes a byte-level token stands for. A token
// holding a character outside the alphabet is kept as its own UTF-8 bytes,
// as the library's ByteLevel decoder does.
func appendFromByteLevel(dst []byte, token string) []byte {
	n := len(dst)
	for _, r := range token {
		b, ok := charToByte[r]
		if !ok {
			return append(dst[:n], token...)
		}
		dst = append(dst, b)
	}
	return dst
}
