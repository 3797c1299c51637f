package admin

import (
	"context"
	"net/http"
)

func contextWithActor(r *http.Request, actor string) context.Context {
	return context.WithValue(r.Context(), ctxKey{}, actor)
}

func actor(r *http.Request) string {
	a, _ := r.Context().Value(ctxKey{}).(string)
	return a
}
