package main

import "github.com/oncelink/oncelink/internal/storeurl"

func storeURLForDisplay(u string) string { return storeurl.Redact(u) }
