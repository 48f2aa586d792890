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

// OutputWidth returns the last dimension of the model's first graph output
// when it is a fixed size (e.g. 4585 for RAM++'s tag scores), read from the
// ONNX ModelProto without ONNX Runtime; ok is false when it is symbolic or
// absent.
func OutputWidth(model []byte) (width int64, ok bool) {
	graph, found := field(model, 7) // ModelProto.graph
	if !found {
		return 0, false
	}
	out, found := field(graph, 12) // GraphProto.output (first)
	if !found {
		return 0, false
	}
	typ, found := field(out, 2) // ValueInfoProto.type
	if !found {
		return 0, false
	}
	tensor, found := field(typ, 1) // TypeProto.tensor_type
	if !found {
		return 0, false
	}
	shape, found := field(tensor, 2) // TypeProto.Tensor.shape
	if !found {
		return 0, false
	}
	var last []byte
	for b := shape; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType { // TensorShapeProto.dim
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return 0, false
			}
			last = v
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, false
		}
		b = b[m:]
	}
	for b := last; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if num == 1 && typ == protowire.VarintType { // Dimension.dim_value
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return 0, false
			}
			return int64(v), true
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, false
		}
		b = b[m:]
	}
	return 0, false
}

// field returns the first length-delimited field num of a message.
func field(msg []byte, num protowire.Number) ([]byte, bool) {
	for b := msg; len(b) > 0; {
		n, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return nil, false
		}
		b = b[k:]
		if n == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, false
			}
			return v, true
		}
		m := protowire.ConsumeFieldValue(n, typ, b)
		if m < 0 {
			return nil, false
		}
		b = b[m:]
	}
	return nil, false
}
