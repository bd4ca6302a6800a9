// A small Anthropic-Messages-shaped server on the real gin or Echo (Debian's
// golang-github-gin-gonic-gin-dev 1.8.1, golang-github-labstack-echo-dev 4.2.1), so that their
// default request loggers can be captured as a Go proxy in Docker writes them
// (fixtures/captures/go-*; see record_go.py there). Answers after a per-model delay; `stream`
// answers with server-sent events spread over that delay; the model "unknown-model" is a 400.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo"
	"github.com/labstack/echo/middleware"
)

type ask struct {
	Model  string `json:"model"`
	Stream bool   `json:"stream"`
}

var delays = map[string]time.Duration{
	"claude-haiku-4-5":  250 * time.Millisecond,
	"claude-sonnet-4-5": 700 * time.Millisecond,
	"claude-opus-4-1":   1400 * time.Millisecond,
}

// answer writes the reply to w (flushing between events when streaming); the status, or 0 when
// it was written as a stream.
func answer(w http.ResponseWriter, a ask) int {
	delay, ok := delays[a.Model]
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"type":"error","error":{"type":"invalid_request_error","message":"model: %s"}}`, a.Model)
		return http.StatusBadRequest
	}
	usage := `"usage":{"input_tokens":12,"output_tokens":40}`
	if !a.Stream {
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, `{"id":"msg_1","type":"message","role":"assistant","model":"%s","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn",%s}`, a.Model, usage)
		return http.StatusOK
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	step := delay / 5
	time.Sleep(step)
	fmt.Fprintf(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"%s\",%s}}\n\n", a.Model, usage)
	for i := 0; i < 4; i++ {
		if flusher != nil {
			flusher.Flush()
		}
		time.Sleep(step)
		fmt.Fprint(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi \"}}\n\n")
	}
	fmt.Fprintf(w, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},%s}\n\n", usage)
	fmt.Fprint(w, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return 0
}

func decode(r *http.Request) (ask, bool) {
	var a ask
	return a, json.NewDecoder(r.Body).Decode(&a) == nil
}

func main() {
	addr := ":8080"
	switch os.Getenv("SERVER") {
	case "echo":
		e := echo.New()
		e.HideBanner = true
		e.Use(middleware.Logger())
		e.GET("/health", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
		e.POST("/v1/messages", func(c echo.Context) error {
			a, ok := decode(c.Request())
			if !ok {
				return c.String(http.StatusBadRequest, "bad json")
			}
			if status := answer(c.Response(), a); status != 0 {
				c.Response().Status = status
			}
			return nil
		})
		e.Logger.Fatal(e.Start(addr))
	default:
		r := gin.Default()
		r.GET("/health", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
		r.POST("/v1/messages", func(c *gin.Context) {
			a, ok := decode(c.Request)
			if !ok {
				c.String(http.StatusBadRequest, "bad json")
				return
			}
			answer(c.Writer, a)
		})
		_ = r.Run(addr)
	}
}
