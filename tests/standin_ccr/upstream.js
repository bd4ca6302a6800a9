#!/usr/bin/env node
// A fake OpenAI-compatible provider for claude-code-router's tests: POST /v1/chat/completions,
// streamed or not, answering after a per-model delay from models.json (beside this file).
// A model whose spec has "status" answers that status with an OpenAI error body (a failing
// upstream). Listens on 127.0.0.1:<port> inside the router's own container (argv[2]); writes
// argv[3] once listening. Logs nothing: the container's log is the router's alone.
"use strict";
const http = require("http");
const fs = require("fs");
const path = require("path");

const spec = JSON.parse(fs.readFileSync(path.join(__dirname, "models.json"), "utf8"));
const port = Number(process.argv[2] || 8999);
const ready = process.argv[3];

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
      return answer(res, 400, { error: { message: "bad json", type: "invalid_request_error" } });
    }
    const model = String(body.model || "");
    const m = spec.models[model] || spec.models["default"];
    const delayMs = m.delay_s * 1000;
    if (m.status) {
      return setTimeout(() => answer(res, m.status, { error: { message: m.message || "upstream failure", type: "server_error" } }), delayMs);
    }
    const out = words(m.output_tokens);
    const usage = { prompt_tokens: m.input_tokens, completion_tokens: m.output_tokens, total_tokens: m.input_tokens + m.output_tokens };
    if (!body.stream) {
      return setTimeout(() => answer(res, 200, {
        id: "chatcmpl-fake", object: "chat.completion", created: Math.floor(Date.now() / 1000), model,
        choices: [{ index: 0, message: { role: "assistant", content: out.join(" ") }, finish_reason: "stop" }],
        usage,
      }), delayMs);
    }
    // Streamed: the first content after first_token_share of the delay, the rest spread to the end.
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const base = { id: "chatcmpl-fake", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model };
    const send = (obj) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
    const first = delayMs * spec.first_token_share;
    send({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
    out.forEach((w, i) => {
      const at = out.length > 1 ? first + ((delayMs - first) * i) / (out.length - 1) : delayMs;
      setTimeout(() => send({ ...base, choices: [{ index: 0, delta: { content: (i ? " " : "") + w }, finish_reason: null }] }), at);
    });
    setTimeout(() => {
      send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage });
      res.end("data: [DONE]\n\n");
    }, delayMs + 1);
  });
});

server.listen(port, "127.0.0.1", () => {
  if (ready) fs.writeFileSync(ready, String(port));
});
