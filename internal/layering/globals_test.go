package layering_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// A DoFn runs in a worker process that is not the launcher: there, every
// package-level variable holds the value its declaration (or init) gave
// it, whatever the launcher's main set. So no library package (anything
// but a command's package main) assigns a package-level variable outside
// its declaration and init: configuration reaches workers inside the
// DoFns' serialised fields, never through a global. A process-wide cache
// (sync.OnceValues, a cache type's methods) is built by each process from
// what its DoFns carry. (The multi-process
// test in runners/multiprocess runs the jobs so.)
func TestNoGlobalAssignedOutsideInit(t *testing.T) {
	root := ".."
	if _, err := os.Stat(filepath.Join(root, "..", "go.mod")); err == nil {
		root = filepath.Join(root, "..")
	}
	pkgs := map[string][]*ast.File{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules" || n == "bench") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		pkgs[filepath.Dir(path)] = append(pkgs[filepath.Dir(path)], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 20 {
		t.Fatalf("found only %d library packages under %s", len(pkgs), root)
	}
	var bad []string
	for _, files := range pkgs {
		globals := map[string]bool{}
		tops := map[*ast.ValueSpec]bool{}
		for _, f := range files {
			for _, d := range f.Decls {
				if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
					for _, s := range g.Specs {
						vs := s.(*ast.ValueSpec)
						tops[vs] = true
						for _, n := range vs.Names {
							globals[n.Name] = true
						}
					}
				}
			}
		}
		isGlobal := func(e ast.Expr) (string, bool) {
			for {
				switch x := e.(type) {
				case *ast.SelectorExpr:
					e = x.X
					continue
				case *ast.IndexExpr:
					e = x.X
					continue
				case *ast.StarExpr:
					e = x.X
					continue
				case *ast.ParenExpr:
					e = x.X
					continue
				case *ast.Ident:
					if !globals[x.Name] {
						return "", false
					}
					if x.Obj == nil { // declared in another file of the package
						return x.Name, true
					}
					vs, ok := x.Obj.Decl.(*ast.ValueSpec)
					return x.Name, ok && tops[vs]
				}
				return "", false
			}
		}
		for _, f := range files {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil || fd.Recv == nil && fd.Name.Name == "init" {
					continue
				}
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					var lhs []ast.Expr
					switch s := n.(type) {
					case *ast.AssignStmt:
						if s.Tok != token.DEFINE {
							lhs = s.Lhs
						}
					case *ast.IncDecStmt:
						lhs = []ast.Expr{s.X}
					}
					for _, e := range lhs {
						if name, ok := isGlobal(e); ok {
							bad = append(bad, fset.Position(e.Pos()).String()+": "+name+" (in "+fd.Name.Name+")")
						}
					}
					return true
				})
			}
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		if strings.Contains(b, "models/ort/session_cgo.go") && strings.HasSuffix(b, ": envLib (in Init)") {
			// The library ONNX Runtime's one environment per process was
			// made from: every worker process makes its own, from the
			// library its configuration names.
			continue
		}
		t.Errorf("package-level variable assigned outside its declaration and init: %s", b)
	}
}
