package errorfs

import (
	"strings"
	"sync/atomic"
)

// Injector decides which operations fail.
type Injector interface {
	// MaybeError returns the error op should fail with, or nil to let it
	// run. It may be called concurrently.
	MaybeError(op Op) error
}

// InjectorFunc adapts a function to an Injector.
type InjectorFunc func(op Op) error

// MaybeError returns f(op).
func (f InjectorFunc) MaybeError(op Op) error { return f(op) }

// orInjected replaces a nil error with ErrInjected.
func orInjected(err error) error {
	if err == nil {
		return ErrInjected
	}
	return err
}

// OnIndex fails the operation with index i, once, with err (ErrInjected if
// nil).
func OnIndex(i int64, err error) Injector {
	err = orInjected(err)
	var fired atomic.Bool
	return InjectorFunc(func(op Op) error {
		if op.Index == i && fired.CompareAndSwap(false, true) {
			return err
		}
		return nil
	})
}

// AfterIndex fails every operation whose index is i or more with err
// (ErrInjected if nil): a disk that has gone bad for good.
func AfterIndex(i int64, err error) Injector {
	err = orInjected(err)
	return InjectorFunc(func(op Op) error {
		if op.Index >= i {
			return err
		}
		return nil
	})
}

// Once passes on the first error inj returns and none after it: for
// example, Once(OnKind(AfterIndex(0, nil), OpFileSync)) fails the first
// sync only.
func Once(inj Injector) Injector {
	var fired atomic.Bool
	return InjectorFunc(func(op Op) error {
		if fired.Load() {
			return nil
		}
		if err := inj.MaybeError(op); err != nil && fired.CompareAndSwap(false, true) {
			return err
		}
		return nil
	})
}

// OnKind shows inj only the operations of the given kinds; the others run.
func OnKind(inj Injector, kinds ...OpKind) Injector {
	var set [len(opNames)]bool
	for _, k := range kinds {
		if k >= 0 && int(k) < len(set) {
			set[k] = true
		}
	}
	return InjectorFunc(func(op Op) error {
		if op.Kind >= 0 && int(op.Kind) < len(set) && set[op.Kind] {
			return inj.MaybeError(op)
		}
		return nil
	})
}

// WriteOpsOnly shows inj only the operations that change state (see
// OpKind.IsWrite); reads, opens and closes run.
func WriteOpsOnly(inj Injector) Injector {
	return InjectorFunc(func(op Op) error {
		if op.Kind.IsWrite() {
			return inj.MaybeError(op)
		}
		return nil
	})
}

// PathContains shows inj only the operations whose Op.Path contains
// substr, such as ".log" or "MANIFEST"; the others run.
func PathContains(inj Injector, substr string) Injector {
	return InjectorFunc(func(op Op) error {
		if strings.Contains(op.Path, substr) {
			return inj.MaybeError(op)
		}
		return nil
	})
}
