// A stand-in for one-api (songquanpeng/one-api) and its fork new-api (QuantumNous/new-api) in
// front of a Claude channel: NOT those projects (they need Go modules Debian lacks), but a small
// server on the real gin (Debian's golang-github-gin-gonic-gin-dev 1.8.1) that installs the SAME
// gin.LoggerWithFormatter format and writes the SAME per-request logger lines, in the same order
// and on the same streams, as the projects' source does, so that the lines a relay writes can
// be captured in Docker (fixtures/captures/oneapi-*, newapi-*; see record_oneapi.py there).
//
// FLAVOR picks the source whose lines are imitated:
//   - oneapi-v0.6.10: songquanpeng/one-api tag v0.6.10 (3915ce98, 2024-12-27), the last release:
//     middleware/logger.go, common/logger/logger.go ("[%s] %v | %s | %s \n", levels INFO / ERR /
//     WARN / DEBUG, "[SYS] %v | %s \n"), model/log.go ("record consume log: userId=%d, ...").
//   - oneapi-head: songquanpeng/one-api 8df4a267 (2025-02-21, v0.6.11-preview): the logger adds
//     " | file:line [func] " ("[%s] %v%s%s %s%s \n", levels INFO / WARN / ERROR / DEBUG; no id on
//     system lines) and the consume line is "record log: %+v" of the stored Log.
//   - newapi: QuantumNous/new-api: middleware/logger.go with "client_ip=" (the form read at
//     2026 commits), logger/logger.go's slog ReadableTextHandler ("[LEVEL] time | request_id |
//     message", "SYSTEM" without a request), model/log.go "record consume log: userId=%d,
//     params=%s" (JSON), controller/relay.go "relay error (channel #%d, status code: %d): %s".
//
// The relay (relay/controller/text.go and controller/relay.go of each): the request id is made
// (time string + 8 random digits, or letters for new-api; new-api takes a client's
// X-Oneapi-Request-Id), the token is checked (401 "未提供令牌" / "无效的令牌"), the channel
// for the model is chosen (503 "当前分组 default 下对于模型 %s 无可用渠道" for an unknown model),
// quota is pre-consumed ("user 1 has enough quota ..."), the upstream is called: models below
// answer after their delay (streams as SSE spread over it); "claude-overloaded" gets a 529
// from upstream, "claude-2.0" a 400. On success the consume record is logged from a goroutine
// after the response, a few ms later (one-api: `go postConsumeQuota`, which writes the database
// before it logs), so it may land after the [GIN] line. DEBUG=true adds the debug lines.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

const requestIdKey = "X-Oneapi-Request-Id" // common/helper/key.go (one-api), common (new-api)

var (
	flavor  = os.Getenv("FLAVOR")
	debug   = strings.ToLower(os.Getenv("DEBUG")) == "true"
	apiKey  = "sk-standin-oneapi"
	writeMu sync.Mutex // one write per line, as fmt.Fprintf on an *os.File does
	logID   = 100
)

var delays = map[string]time.Duration{
	"claude-3-5-haiku-20241022":  250 * time.Millisecond,
	"claude-3-5-sonnet-20241022": 700 * time.Millisecond,
	"claude-3-opus-20240229":     1400 * time.Millisecond,
	"claude-overloaded":          150 * time.Millisecond, // upstream answers 529
	"claude-2.0":                 80 * time.Millisecond,  // upstream answers 400
}

const letters = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// genRequestID: helper.GenRequestID (one-api) / common.GetTimeString()+GetRandomString(8)
// (new-api). GetTimeString is "20060102150405" then UnixNano()%1e9 with %d (not zero-padded).
func genRequestID() string {
	now := time.Now()
	chars := "0123456789"
	if flavor == "newapi" {
		chars = letters
	}
	tail := make([]byte, 8)
	for i := range tail {
		tail[i] = chars[rand.Intn(len(chars))]
	}
	return fmt.Sprintf("%s%d", now.Format("20060102150405"), now.UnixNano()%1e9) + string(tail)
}

func emit(w io.Writer, line string) {
	writeMu.Lock()
	defer writeMu.Unlock()
	_, _ = io.WriteString(w, line)
}

// logLine writes one logger line the way the flavor's logger does. level: info, warn, error,
// debug; id "" for a system line; where: "file.go:N [Func]" (oneapi-head's caller info).
func logLine(level, id, where, msg string) {
	if level == "debug" && !debug {
		return
	}
	now := time.Now().Format("2006/01/02 - 15:04:05")
	out := io.Writer(os.Stderr) // gin.DefaultErrorWriter, all but INFO
	if level == "info" {
		out = os.Stdout // gin.DefaultWriter
	}
	switch flavor {
	case "oneapi-head":
		names := map[string]string{"info": "INFO", "warn": "WARN", "error": "ERROR", "debug": "DEBUG"}
		ref := ""
		if id != "" {
			ref = " | " + id
		}
		file, fn := where, ""
		if i := strings.Index(where, " "); i >= 0 {
			file, fn = where[:i], where[i+1:]
		}
		emit(out, fmt.Sprintf("[%s] %v%s | %s %s %s \n", names[level], now, ref, file, fn, msg))
	case "newapi":
		// slog's ReadableTextHandler writes everything to one writer (stdout).
		names := map[string]string{"info": "INFO", "warn": "WARN", "error": "ERROR", "debug": "DEBUG"}
		if id == "" {
			id = "SYSTEM"
		}
		emit(os.Stdout, fmt.Sprintf("[%s] %v | %s | %s\n", names[level], now, id, msg))
	default: // oneapi-v0.6.10
		names := map[string]string{"info": "INFO", "warn": "WARN", "error": "ERR", "debug": "DEBUG"}
		if id == "" {
			emit(out, fmt.Sprintf("[SYS] %v | %s \n", now, msg))
			return
		}
		emit(out, fmt.Sprintf("[%s] %v | %s | %s \n", names[level], now, id, msg))
	}
}

// setUpLogger: middleware/logger.go of each project, on gin's own LoggerWithFormatter.
func setUpLogger(server *gin.Engine) {
	server.Use(gin.LoggerWithFormatter(func(param gin.LogFormatterParams) string {
		var requestID string
		if param.Keys != nil {
			requestID, _ = param.Keys[requestIdKey].(string)
		}
		client := param.ClientIP
		if flavor == "newapi" {
			client = "client_ip=" + client
		}
		return fmt.Sprintf("[GIN] %s | %s | %3d | %13v | %15s | %7s %s\n",
			param.TimeStamp.Format("2006/01/02 - 15:04:05"),
			requestID,
			param.StatusCode,
			param.Latency,
			client,
			param.Method,
			param.Path,
		)
	}))
}

func requestID(c *gin.Context) {
	id := ""
	if flavor == "newapi" {
		id = c.GetHeader(requestIdKey)
	}
	if id == "" {
		id = genRequestID()
	}
	c.Set(requestIdKey, id)
	c.Header(requestIdKey, id)
	c.Next()
}

type ask struct {
	Model  string `json:"model"`
	Stream bool   `json:"stream"`
}

func abortWithMessage(c *gin.Context, status int, message string) {
	id := c.GetString(requestIdKey)
	c.JSON(status, gin.H{"error": gin.H{
		"message": fmt.Sprintf("%s (request id: %s)", message, id), "type": "one_api_error",
	}})
	c.Abort()
	logLine("error", id, "middleware/utils.go:20 [abortWithMessage]", message)
}

// tokenAuth: middleware/auth.go TokenAuth (model/token.go ValidateUserToken's messages).
func tokenAuth(c *gin.Context) {
	key := c.GetHeader("Authorization")
	if key == "" {
		key = c.GetHeader("x-api-key") // new-api reads Anthropic's header on /v1/messages
	}
	key = strings.TrimPrefix(key, "Bearer ")
	switch {
	case key == "":
		abortWithMessage(c, http.StatusUnauthorized, "未提供令牌")
	case key != apiKey:
		abortWithMessage(c, http.StatusUnauthorized, "无效的令牌")
	default:
		c.Next()
	}
}

// distribute: middleware/distributor.go: the request's model, then a channel for it.
func distribute(c *gin.Context) {
	body, _ := io.ReadAll(c.Request.Body)
	var a ask
	_ = json.Unmarshal(body, &a)
	c.Set("ask", a)
	c.Set("body", string(body))
	if _, ok := delays[a.Model]; !ok {
		msg := fmt.Sprintf("当前分组 default 下对于模型 %s 无可用渠道", a.Model)
		abortWithMessage(c, http.StatusServiceUnavailable, msg)
		return
	}
	if flavor == "oneapi-head" { // the debug line is not in v0.6.10 (nor read in new-api)
		msg := fmt.Sprintf("user id 1, user group: default, request model: %s, using channel #1", a.Model)
		logLine("debug", c.GetString(requestIdKey), "middleware/distributor.go:58 [func1]", msg)
	}
	c.Next()
}

func consumeLine(id string, a ask, elapsed time.Duration) {
	switch flavor {
	case "oneapi-head":
		logID++
		msg := fmt.Sprintf("record log: &{Id:%d UserId:1 CreatedAt:%d Type:2 Content:倍率：1.50 × 1.00 × 5.00 "+
			"Username:root TokenName:standin ModelName:%s Quota:324 PromptTokens:12 CompletionTokens:40 "+
			"ChannelId:1 RequestId:%s ElapsedTime:%d IsStream:%t SystemPromptReset:false}",
			logID, time.Now().Unix(), a.Model, id, elapsed.Milliseconds(), a.Stream)
		logLine("info", id, "model/log.go:51 [recordLogHelper]", msg)
	case "newapi":
		params := fmt.Sprintf(`{"channel_id":1,"prompt_tokens":12,"completion_tokens":40,"model_name":"%s",`+
			`"token_name":"standin","quota":324,"content":"模型倍率 1.50，补全倍率 5.00，分组倍率 1.00",`+
			`"token_id":1,"use_time_seconds":%d,"is_stream":%t,"group":"default","other":{"frt":-1000}}`,
			a.Model, int(elapsed.Seconds()), a.Stream)
		logLine("info", id, "", fmt.Sprintf("record consume log: userId=1, params=%s", params))
	default:
		logLine("info", id, "", fmt.Sprintf("record consume log: userId=1, channelId=1, promptTokens=12, "+
			"completionTokens=40, modelName=%s, tokenName=standin, quota=324, content=倍率：1.50 × 1.00 × 5.00", a.Model))
	}
}

// relayError: controller/relay.go after an upstream failure (one-api: "won't retry" for a
// 400, then processChannelRelayError from a goroutine; new-api: processChannelError).
func relayError(c *gin.Context, status int, message string) {
	id := c.GetString(requestIdKey)
	if flavor == "newapi" {
		logLine("error", id, "", fmt.Sprintf("relay error (channel #1, status code: %d): %s", status, message))
	} else {
		if status == http.StatusBadRequest {
			msg := fmt.Sprintf("relay error happen, status code is %d, won't retry in this case", status)
			logLine("error", id, "controller/relay.go:67 [Relay]", msg)
		}
		go logLine("error", id, "controller/relay.go:125 [processChannelRelayError]",
			fmt.Sprintf("relay error (channel id 1, user id: 1): %s", message))
	}
	c.JSON(status, gin.H{"error": gin.H{
		"message": fmt.Sprintf("%s (request id: %s)", message, id), "type": "upstream_error",
	}})
}

func relay(c *gin.Context) {
	start := time.Now()
	id := c.GetString(requestIdKey)
	a := c.MustGet("ask").(ask)
	if flavor != "newapi" { // new-api has these lines commented out (service/pre_consume_quota.go)
		logLine("debug", id, "controller/relay.go:50 [Relay]", "request body: "+c.GetString("body"))
		logLine("info", id, "relay/controller/helper.go:86 [preConsumeQuota]",
			"user 1 has enough quota 500000000, trusted and no need to pre-consume")
	}
	delay := delays[a.Model]
	switch a.Model {
	case "claude-overloaded":
		time.Sleep(delay)
		relayError(c, 529, "Overloaded")
		return
	case "claude-2.0":
		time.Sleep(delay)
		relayError(c, http.StatusBadRequest, "model: claude-2.0 is not supported")
		return
	}
	if !a.Stream {
		time.Sleep(delay)
		c.JSON(http.StatusOK, answer(c, a))
	} else {
		stream(c, a, delay)
	}
	elapsed := time.Since(start)
	go func() { // postConsumeQuota: database writes first, then the line
		time.Sleep(time.Duration(2+rand.Intn(4)) * time.Millisecond)
		consumeLine(id, a, elapsed)
	}()
}

func answer(c *gin.Context, a ask) gin.H {
	if strings.HasSuffix(c.Request.URL.Path, "/messages") {
		return gin.H{"id": "msg_1", "type": "message", "role": "assistant", "model": a.Model,
			"content":     []gin.H{{"type": "text", "text": "hi"}},
			"stop_reason": "end_turn", "usage": gin.H{"input_tokens": 12, "output_tokens": 40}}
	}
	return gin.H{"id": "chatcmpl-" + c.GetString(requestIdKey), "object": "chat.completion",
		"model":   a.Model,
		"choices": []gin.H{{"index": 0, "message": gin.H{"role": "assistant", "content": "hi"}, "finish_reason": "stop"}},
		"usage":   gin.H{"prompt_tokens": 12, "completion_tokens": 40, "total_tokens": 52}}
}

func stream(c *gin.Context, a ask, delay time.Duration) {
	w := c.Writer
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	step := delay / 5
	claude := strings.HasSuffix(c.Request.URL.Path, "/messages")
	usage := `"usage":{"input_tokens":12,"output_tokens":40}`
	chunk := func(text string) string {
		return fmt.Sprintf(`{"id":"chatcmpl-%s","object":"chat.completion.chunk","model":"%s",`+
			`"choices":[{"index":0,"delta":{"content":"%s"}}]}`, c.GetString(requestIdKey), a.Model, text)
	}
	time.Sleep(step)
	if claude {
		fmt.Fprintf(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"%s\",%s}}\n\n", a.Model, usage)
	} else {
		fmt.Fprintf(w, "data: %s\n\n", chunk(""))
	}
	for i := 0; i < 4; i++ {
		w.Flush()
		time.Sleep(step)
		if claude {
			fmt.Fprint(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi \"}}\n\n")
		} else {
			fmt.Fprintf(w, "data: %s\n\n", chunk("hi "))
		}
	}
	if claude {
		fmt.Fprintf(w, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},%s}\n\n", usage)
		fmt.Fprint(w, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	} else {
		fmt.Fprint(w, "data: [DONE]\n\n")
	}
	w.Flush()
}

func main() {
	rand.Seed(time.Now().UnixNano())
	gin.SetMode(gin.ReleaseMode) // main.go: release unless GIN_MODE=debug
	switch flavor {
	case "oneapi-head":
		logLine("info", "", "main.go:32 [main]", "One API v0.6.11-preview.7 started")
	case "newapi":
		logLine("info", "", "", "New API v0.9.0 started")
	default:
		flavor = "oneapi-v0.6.10"
		logLine("info", "", "", "One API v0.6.10 started")
	}
	server := gin.New()
	server.Use(gin.Recovery())
	server.Use(requestID)
	setUpLogger(server)
	server.GET("/api/status", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"success": true}) })
	v1 := server.Group("/v1", tokenAuth, distribute)
	v1.POST("/chat/completions", relay)
	if flavor == "newapi" {
		v1.POST("/messages", relay)
	}
	logLine("info", "", "main.go:119 [main]", "server started on http://localhost:3000")
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	_ = server.Run(":" + port)
}
