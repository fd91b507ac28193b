package action

import "github.com/google/uuid"

func init() {
	// A pool of random bytes makes UUID generation cheap on the hot path.
	uuid.EnableRandPool()
}

// UUIDv4 returns a random UUID string.
func UUIDv4() string { return uuid.NewString() }

// UUIDv7 returns a time-ordered UUID string (used for dispatch event ids).
func UUIDv7() string {
	u, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return u.String()
}
