package ort

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// ReadMetadata returns the metadata_props of an ONNX ModelProto without
// loading ONNX Runtime, so a launcher built without cgo can still read a
// model's labels and preprocessing hints.
func ReadMetadata(model []byte) (map[string]string, error) {
	out := map[string]string{}
	b := model
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("ort: not an ONNX model: %v", protowire.ParseError(n))
		}
		b = b[n:]
		if num == 14 && typ == protowire.BytesType {
			entry, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("ort: bad metadata entry: %v", protowire.ParseError(n))
			}
			b = b[n:]
			var k, v string
			for len(entry) > 0 {
				en, et, m := protowire.ConsumeTag(entry)
				if m < 0 {
					return nil, fmt.Errorf("ort: bad metadata entry")
				}
				entry = entry[m:]
				if et != protowire.BytesType {
					m = protowire.ConsumeFieldValue(en, et, entry)
					if m < 0 {
						return nil, fmt.Errorf("ort: bad metadata entry")
					}
					entry = entry[m:]
					continue
				}
				s, m := protowire.ConsumeString(entry)
				if m < 0 {
					return nil, fmt.Errorf("ort: bad metadata entry")
				}
				entry = entry[m:]
				switch en {
				case 1:
					k = s
				case 2:
					v = s
				}
			}
			out[k] = v
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, fmt.Errorf("ort: not an ONNX model: %v", protowire.ParseError(n))
		}
		b = b[n:]
	}
	return out, nil
}
