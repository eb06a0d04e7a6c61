package manifest

import "fmt"

// Field walks path through nested maps of JSON-shaped content and returns
// what it finds there, or nil.
func Field(v any, path ...string) any {
	for _, p := range path {
		mp, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mp[p]
	}
	return v
}

// Str is the string at path, or "".
func Str(v any, path ...string) string {
	s, _ := Field(v, path...).(string)
	return s
}

// List is the list at path, or nil.
func List(v any, path ...string) []any {
	l, _ := Field(v, path...).([]any)
	return l
}

// Num is the number at path, whichever numeric type the decoder chose.
func Num(v any, path ...string) (float64, bool) {
	switch n := Field(v, path...).(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

// StrMap is the map at path with its values printed as strings, or nil.
func StrMap(v any, path ...string) map[string]string {
	mp, _ := Field(v, path...).(map[string]any)
	if mp == nil {
		return nil
	}
	out := make(map[string]string, len(mp))
	for k, val := range mp {
		out[k] = fmt.Sprint(val)
	}
	return out
}
