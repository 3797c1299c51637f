package memory_test

import (
	"testing"

	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/memory"
	"github.com/oncelink/oncelink/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
}
