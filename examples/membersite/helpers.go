package main

import "github.com/oncelink/oncelink/storeurl"

func storeURLForDisplay(u string) string { return storeurl.Redact(u) }
