#!/usr/bin/env node
// A fake Anthropic Messages API for claude-relay-service's captures: POST /v1/messages, streamed
// (SSE: message_start, content_block_start/delta/stop, message_delta with usage, message_stop)
// or not, answering after a per-model delay from models.json (beside this file). A model whose
// spec has "status" answers that status with an Anthropic error body (a failing upstream).
// Shapes follow https://docs.anthropic.com/en/api/messages and .../messages-streaming.
// Listens on 127.0.0.1:<argv[2]> inside the relay's own container; writes argv[3] once
// listening. Logs nothing: the container's log is the relay's alone.
"use strict";
const http = require("http");
const fs = require("fs");
const path = require("path");

const spec = JSON.parse(fs.readFileSync(path.join(__dirname, "models.json"), "utf8"));
const port = Number(process.argv[2] || 8999);
const ready = process.argv[3];
let seq = 0;

function answer(res, status, obj) {
  const data = JSON.stringify(obj);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data) });
  res.end(data);
}

function words(n) {
  return Array.from({ length: n }, (_, i) => `w${i + 1}`);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let body = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    } catch (e) {
      return answer(res, 400, { type: "error", error: { type: "invalid_request_error", message: "bad json" } });
    }
    const model = String(body.model || "");
    const m = spec.models[model] || spec.models["default"];
    const delayMs = m.delay_s * 1000;
    if (m.status) {
      const err = { type: "error", error: { type: m.type, message: m.message } };
      return setTimeout(() => answer(res, m.status, err), delayMs);
    }
    const id = `msg_fake${String(++seq).padStart(6, "0")}`;
    const out = words(m.output_tokens);
    const usage = { input_tokens: m.input_tokens, output_tokens: m.output_tokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    if (!body.stream) {
      return setTimeout(() => answer(res, 200, {
        id, type: "message", role: "assistant", model,
        content: [{ type: "text", text: out.join(" ") }],
        stop_reason: "end_turn", stop_sequence: null, usage,
      }), delayMs);
    }
    // Streamed: message_start at once, the first text after first_token_share of the delay.
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const send = (event, obj) => res.write(`event: ${event}\ndata: ${JSON.stringify(obj)}\n\n`);
    const first = delayMs * spec.first_token_share;
    send("message_start", { type: "message_start", message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
    send("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    out.forEach((w, i) => {
      const at = out.length > 1 ? first + ((delayMs - first) * i) / (out.length - 1) : delayMs;
      setTimeout(() => send("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: (i ? " " : "") + w } }), at);
    });
    setTimeout(() => {
      send("content_block_stop", { type: "content_block_stop", index: 0 });
      send("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: m.output_tokens } });
      send("message_stop", { type: "message_stop" });
      res.end();
    }, delayMs + 1);
  });
});

server.listen(port, "127.0.0.1", () => {
  if (ready) fs.writeFileSync(ready, String(port));
});
