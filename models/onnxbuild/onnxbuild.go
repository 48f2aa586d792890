// Package onnxbuild writes small ONNX models with protowire, so that tests
// can run a real ONNX Runtime without Python or downloaded weights. It
// supports exactly what conceptfreq's test models need: float and int64
// inputs, float initializers, a linear chain of nodes with int and ints
// attributes, symbolic dimensions and metadata.
package onnxbuild

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// ONNX TensorProto.DataType values.
const (
	dataTypeFloat = 1
	dataTypeInt64 = 7
)

// Dim is a tensor dimension: a fixed size, or a symbolic name when Param is set.
type Dim struct {
	Value int64
	Param string
}

// Value is a graph input or output: float, or int64 when Int64 is set.
type Value struct {
	Name  string
	Dims  []Dim
	Int64 bool
}

// Node is one operator.
type Node struct {
	Op       string
	Inputs   []string
	Outputs  []string
	IntAttr  map[string]int64
	IntsAttr map[string][]int64
}

// Initializer is a constant float tensor.
type Initializer struct {
	Name string
	Dims []int64
	Data []float32
}

// Model is a single-graph ONNX model.
type Model struct {
	Name         string
	Inputs       []Value
	Outputs      []Value
	Nodes        []Node
	Initializers []Initializer
	Metadata     map[string]string
	Opset        int64 // default 13
	IRVersion    int64 // default 8
}

// Marshal encodes the model as an ONNX ModelProto.
func (m *Model) Marshal() []byte {
	opset, ir := m.Opset, m.IRVersion
	if opset == 0 {
		opset = 13
	}
	if ir == 0 {
		ir = 8
	}
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType) // ir_version
	b = protowire.AppendVarint(b, uint64(ir))
	b = appendString(b, 2, "conceptfreq/onnxbuild") // producer_name
	b = appendMessage(b, 7, m.graph())              // graph
	var os []byte
	os = appendString(os, 1, "") // domain: default ONNX
	os = protowire.AppendTag(os, 2, protowire.VarintType)
	os = protowire.AppendVarint(os, uint64(opset))
	b = appendMessage(b, 8, os) // opset_import
	for _, k := range sortedKeys(m.Metadata) {
		var e []byte
		e = appendString(e, 1, k)
		e = appendString(e, 2, m.Metadata[k])
		b = appendMessage(b, 14, e) // metadata_props
	}
	return b
}

func (m *Model) graph() []byte {
	var g []byte
	for i, n := range m.Nodes {
		var nb []byte
		for _, in := range n.Inputs {
			nb = appendString(nb, 1, in)
		}
		for _, out := range n.Outputs {
			nb = appendString(nb, 2, out)
		}
		nb = appendString(nb, 3, n.Op+"_"+string(rune('a'+i)))
		nb = appendString(nb, 4, n.Op)
		for _, k := range sortedKeys(n.IntAttr) {
			var a []byte
			a = appendString(a, 1, k)
			a = protowire.AppendTag(a, 3, protowire.VarintType) // i
			a = protowire.AppendVarint(a, uint64(n.IntAttr[k]))
			a = protowire.AppendTag(a, 20, protowire.VarintType) // type INT = 2
			a = protowire.AppendVarint(a, 2)
			nb = appendMessage(nb, 5, a)
		}
		for _, k := range sortedKeys(n.IntsAttr) {
			var a []byte
			a = appendString(a, 1, k)
			for _, v := range n.IntsAttr[k] {
				a = protowire.AppendTag(a, 8, protowire.VarintType) // ints
				a = protowire.AppendVarint(a, uint64(v))
			}
			a = protowire.AppendTag(a, 20, protowire.VarintType) // type INTS = 7
			a = protowire.AppendVarint(a, 7)
			nb = appendMessage(nb, 5, a)
		}
		g = appendMessage(g, 1, nb)
	}
	g = appendString(g, 2, m.Name)
	for _, init := range m.Initializers {
		var t []byte
		for _, d := range init.Dims {
			t = protowire.AppendTag(t, 1, protowire.VarintType)
			t = protowire.AppendVarint(t, uint64(d))
		}
		t = protowire.AppendTag(t, 2, protowire.VarintType)
		t = protowire.AppendVarint(t, dataTypeFloat)
		t = appendString(t, 8, init.Name)
		raw := make([]byte, 0, 4*len(init.Data))
		for _, f := range init.Data {
			raw = protowire.AppendFixed32(raw, math.Float32bits(f))
		}
		t = protowire.AppendTag(t, 9, protowire.BytesType) // raw_data, little-endian
		t = protowire.AppendBytes(t, raw)
		g = appendMessage(g, 5, t)
	}
	for _, v := range m.Inputs {
		g = appendMessage(g, 11, valueInfo(v))
	}
	for _, v := range m.Outputs {
		g = appendMessage(g, 12, valueInfo(v))
	}
	return g
}

func valueInfo(v Value) []byte {
	var shape []byte
	for _, d := range v.Dims {
		var db []byte
		if d.Param != "" {
			db = appendString(db, 2, d.Param)
		} else {
			db = protowire.AppendTag(db, 1, protowire.VarintType)
			db = protowire.AppendVarint(db, uint64(d.Value))
		}
		shape = appendMessage(shape, 1, db)
	}
	elem := uint64(dataTypeFloat)
	if v.Int64 {
		elem = dataTypeInt64
	}
	var tensor []byte
	tensor = protowire.AppendTag(tensor, 1, protowire.VarintType) // elem_type
	tensor = protowire.AppendVarint(tensor, elem)
	tensor = appendMessage(tensor, 2, shape)
	var typ []byte
	typ = appendMessage(typ, 1, tensor) // tensor_type
	var vi []byte
	vi = appendString(vi, 1, v.Name)
	vi = appendMessage(vi, 2, typ)
	return vi
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// PoolLinear returns the test models' graph: image[N,3,H,W] →
// GlobalAveragePool → Flatten → MatMul W[3,C] → (Sigmoid when sigmoid) →
// output[N,C]. W is row-major [3][C].
func PoolLinear(name, output string, w [3][]float32, sigmoid bool, metadata map[string]string) *Model {
	c := int64(len(w[0]))
	data := make([]float32, 0, 3*c)
	for _, row := range w {
		data = append(data, row...)
	}
	m := &Model{
		Name:         name,
		Inputs:       []Value{{Name: "image", Dims: []Dim{{Param: "batch"}, {Value: 3}, {Param: "height"}, {Param: "width"}}}},
		Outputs:      []Value{{Name: output, Dims: []Dim{{Param: "batch"}, {Value: c}}}},
		Initializers: []Initializer{{Name: "W", Dims: []int64{3, c}, Data: data}},
		Metadata:     metadata,
		Nodes: []Node{
			{Op: "GlobalAveragePool", Inputs: []string{"image"}, Outputs: []string{"pooled"}},
			{Op: "Flatten", Inputs: []string{"pooled"}, Outputs: []string{"flat"}, IntAttr: map[string]int64{"axis": 1}},
		},
	}
	last := output
	if sigmoid {
		last = "logits"
	}
	m.Nodes = append(m.Nodes, Node{Op: "MatMul", Inputs: []string{"flat", "W"}, Outputs: []string{last}})
	if sigmoid {
		m.Nodes = append(m.Nodes, Node{Op: "Sigmoid", Inputs: []string{"logits"}, Outputs: []string{output}})
	}
	return m
}

// TokenMean returns a test text encoder: tokens[N,L] (int64) → Gather from
// the table [V][D] → ReduceMean over the L tokens → output[N,D]. Token id
// i's embedding is table[i].
func TokenMean(name, output string, table [][]float32, metadata map[string]string) *Model {
	d := int64(len(table[0]))
	data := make([]float32, 0, int64(len(table))*d)
	for _, row := range table {
		data = append(data, row...)
	}
	return &Model{
		Name:         name,
		Inputs:       []Value{{Name: "text", Int64: true, Dims: []Dim{{Param: "batch"}, {Param: "context"}}}},
		Outputs:      []Value{{Name: output, Dims: []Dim{{Param: "batch"}, {Value: d}}}},
		Initializers: []Initializer{{Name: "E", Dims: []int64{int64(len(table)), d}, Data: data}},
		Metadata:     metadata,
		Nodes: []Node{
			{Op: "Gather", Inputs: []string{"E", "text"}, Outputs: []string{"tokens"}, IntAttr: map[string]int64{"axis": 0}},
			{Op: "ReduceMean", Inputs: []string{"tokens"}, Outputs: []string{output}, IntsAttr: map[string][]int64{"axes": {1}}, IntAttr: map[string]int64{"keepdims": 0}},
		},
	}
}

// ColourTextEncoder returns a planted CLIP-style text encoder for tests
// (TokenMean over a vocab-row table): the tokens in colours get their
// colour vector (the embedding colour_embedder.onnx gives a pure image of
// that colour), the padding token 0 and the tokens in zero get zeros, and
// every other token a small deterministic vector (|v| ≤ 0.01), so that
// prompt templates differ slightly without changing which colour a text
// is closest to.
func ColourTextEncoder(vocab int, colours map[int32][3]float32, zero []int32) *Model {
	table := make([][]float32, vocab)
	state := uint32(2463534242)
	next := func() float32 { // xorshift32, in [-0.01, 0.01]
		state ^= state << 13
		state ^= state >> 17
		state ^= state << 5
		return (float32(state)/float32(^uint32(0)) - 0.5) * 0.02
	}
	for i := range table {
		table[i] = []float32{next(), next(), next()}
	}
	table[0] = []float32{0, 0, 0}
	for _, id := range zero {
		table[id] = []float32{0, 0, 0}
	}
	for id, c := range colours {
		table[id] = c[:]
	}
	return TokenMean("colour_text", "embedding", table, nil)
}

// PlantedColours are the colour words of the planted "CLIP"
// (colour_embedder.onnx + colour_text.onnx) with the RGB of the pure image
// each stands for. The text encoder embeds each word as ColourVector of its
// RGB, which is what the image encoder gives a pure image of that colour
// (mean 0.5, std 0.5), so zero-shot classification of pure images is exact.
// None of the words is in CLIP's 80 ImageNet prompt templates (those name
// black and white only).
var PlantedColours = map[string][3]uint8{
	"red": {255, 0, 0}, "green": {0, 255, 0}, "blue": {0, 0, 255}, "purple": {255, 0, 255},
	"yellow": {255, 255, 0}, "turquoise": {0, 255, 255}, "orange": {255, 128, 0}, "pink": {255, 128, 255},
	"lime": {128, 255, 0}, "teal": {0, 128, 128}, "navy": {0, 0, 128}, "maroon": {128, 0, 0},
	"olive": {128, 128, 0}, "violet": {128, 0, 255},
}

// ColourVector is the planted image encoder's embedding of a pure image of
// colour c: (c/255 − 0.5)/0.5 per channel.
func ColourVector(c [3]uint8) [3]float32 {
	var v [3]float32
	for i := range c {
		v[i] = (float32(c[i])/255 - 0.5) / 0.5
	}
	return v
}

// TinyImageEncoder is a "tiny image" encoder built in Go, the classic
// near-duplicate descriptor: the 32×32 input (mean and std 0.5) averaged
// over a 4×4 grid of 8×8 cells, 48 values, centred on their mean, so
// cosine similarity is the correlation of two images' coarse layouts.
// Unlike the colour embedder (one mean colour) it tells apart photos of
// the same colours.
func TinyImageEncoder() *Model {
	return &Model{
		Name:     "tiny_image_encoder",
		Inputs:   []Value{{Name: "image", Dims: []Dim{{Param: "batch"}, {Value: 3}, {Value: 32}, {Value: 32}}}},
		Outputs:  []Value{{Name: "embedding", Dims: []Dim{{Param: "batch"}, {Value: 48}}}},
		Metadata: map[string]string{"conceptfreq.input_size": "32", "conceptfreq.mean": "0.5,0.5,0.5", "conceptfreq.std": "0.5,0.5,0.5"},
		Nodes: []Node{
			{Op: "AveragePool", Inputs: []string{"image"}, Outputs: []string{"grid"}, IntsAttr: map[string][]int64{"kernel_shape": {8, 8}, "strides": {8, 8}}},
			{Op: "Flatten", Inputs: []string{"grid"}, Outputs: []string{"flat"}, IntAttr: map[string]int64{"axis": 1}},
			{Op: "ReduceMean", Inputs: []string{"flat"}, Outputs: []string{"mean"}, IntsAttr: map[string][]int64{"axes": {1}}, IntAttr: map[string]int64{"keepdims": 1}},
			{Op: "Sub", Inputs: []string{"flat", "mean"}, Outputs: []string{"embedding"}},
		},
	}
}
