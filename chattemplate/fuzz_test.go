package chattemplate

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse parses and renders random templates: neither may panic, and a
// template that parses renders or fails with an error.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.jinja")
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	for _, s := range []string{
		"{{ x }}", "{%- if a -%}b{%+ else +%}c{% endif %}", "{# c #}", "{{ [1, {'a': (2, 3)}][0:1]|tojson(indent=2) }}",
		"{% for a, b in x.items() if a %}{{ loop.cycle(1, 2) }}{% break %}{% endfor %}",
		"{{ 'a' ~ -1 ** 2 // 3 % 4 if b is not none else c|default(d, true) }}",
		"{% set ns = namespace(a=1) %}{% set ns.a = ns.a + 1 %}{{ ns.a }}",
		"{% set a = namespace() %}{% set b = namespace(x=a) %}{% set a.x = a %}{{ a == b }}{{ a }}{{ [a]|unique }}",
		"{% for i in range(9) %}{% set l = [[i] * 9] * 9 %}{{ l == l * 1 }}{% endfor %}",
	} {
		f.Add(s)
	}
	messages := []Message{{"system", "S"}, {"user", "U"}, {"assistant", "A"}}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := Parse(src)
		if err != nil {
			return
		}
		tpl.Render(messages, true)
	})
}
