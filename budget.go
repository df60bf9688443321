package epochdb

import "fmt"

// BudgetError is the error, matching ErrFull (errors.Is), of a write refused
// because it would take the store past its budget: it says which limit the
// write would exceed, with the figures as they were when it was refused.
// Get it with errors.As.
type BudgetError struct {
	// Keys and Bytes are the live keys and stored bytes before the write.
	Keys, Bytes int64
	// MaxKeys and MaxDiskBytes are the budget (0 = no limit).
	MaxKeys, MaxDiskBytes int64
	// KeysFull and DiskFull report which limit the write would exceed; at
	// least one is true.
	KeysFull, DiskFull bool
}

// newBudgetError describes a write that would change the counters by c
// from keys and bytes, over the budget maxKeys / maxBytes.
func newBudgetError(keys, bytes int64, c counts, maxKeys, maxBytes int64) *BudgetError {
	return &BudgetError{
		Keys: keys, Bytes: bytes, MaxKeys: maxKeys, MaxDiskBytes: maxBytes,
		KeysFull: maxKeys > 0 && keys+c.keys > maxKeys,
		DiskFull: maxBytes > 0 && bytes+c.bytes > maxBytes,
	}
}

// Limits names the limits the write would exceed: "MaxKeys",
// "MaxDiskBytes" or "MaxKeys and MaxDiskBytes".
func (e *BudgetError) Limits() string {
	switch {
	case e.KeysFull && e.DiskFull:
		return "MaxKeys and MaxDiskBytes"
	case e.DiskFull:
		return "MaxDiskBytes"
	}
	return "MaxKeys"
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%v: %s reached: %d keys and %d bytes stored, the budget is %d keys and %d bytes (0 = none)",
		ErrFull, e.Limits(), e.Keys, e.Bytes, e.MaxKeys, e.MaxDiskBytes)
}

// Unwrap returns ErrFull.
func (e *BudgetError) Unwrap() error { return ErrFull }
