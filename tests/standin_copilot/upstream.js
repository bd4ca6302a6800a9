#!/usr/bin/env node
// A fake GitHub and GitHub Copilot API for copilot-api's tests, over HTTPS on 127.0.0.1:<port>
// inside copilot-api's own container, where the container's /etc/hosts maps the names
// copilot-api hard-codes (api.github.com, api.githubcopilot.com, aur.archlinux.org; its
// dist/main.js) to 127.0.0.1. Its certificate (argv[3], key argv[4]) is signed by a CA made for
// the run, which copilot-api trusts through NODE_EXTRA_CA_CERTS. Answers:
//   GET  /copilot_internal/v2/token  a Copilot token (api.github.com)
//   GET  /user                       the user copilot-api logs in as
//   GET  /models                     the models of models.json (api.githubcopilot.com)
//   POST /chat/completions           an OpenAI chat completion, streamed or not, after the
//                                    model's delay; a model with "status" answers that status
//   GET  /cgit/...                   the PKGBUILD copilot-api reads VS Code's version from
// Writes argv[5] once listening. Logs nothing: the container's log is copilot-api's alone.
"use strict";
const https = require("https");
const fs = require("fs");
const path = require("path");

const spec = JSON.parse(fs.readFileSync(path.join(__dirname, "models.json"), "utf8"));
const port = Number(process.argv[2] || 443);
const cert = fs.readFileSync(process.argv[3]);
const key = fs.readFileSync(process.argv[4]);
const ready = process.argv[5];

function answer(res, status, obj) {
  const data = typeof obj === "string" ? obj : JSON.stringify(obj);
  const type = typeof obj === "string" ? "text/plain" : "application/json";
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(data) });
  res.end(data);
}

function words(n) {
  return Array.from({ length: n }, (_, i) => `w${i + 1}`);
}

function modelList() {
  return {
    object: "list",
    data: Object.entries(spec.models).map(([id, m]) => ({
      id, name: id, object: "model", vendor: m.vendor, version: id, preview: false,
      model_picker_enabled: true,
      capabilities: {
        family: id, object: "model_capabilities", tokenizer: "o200k_base", type: "chat",
        limits: { max_context_window_tokens: 128000, max_output_tokens: 4096, max_prompt_tokens: 100000 },
        supports: { streaming: true, tool_calls: true },
      },
    })),
  };
}

function completion(res, body) {
  const model = String(body.model || "");
  const m = spec.models[model];
  if (!m) return answer(res, 400, { error: { message: `model ${model} is not supported`, code: "model_not_supported" } });
  const delayMs = m.delay_s * 1000;
  if (m.status) {
    return setTimeout(() => answer(res, m.status, { error: { message: m.message, code: "upstream_error" } }), delayMs);
  }
  const out = words(m.output_tokens);
  const usage = { prompt_tokens: m.input_tokens, completion_tokens: m.output_tokens, total_tokens: m.input_tokens + m.output_tokens };
  const created = Math.floor(Date.now() / 1000);
  if (!body.stream) {
    return setTimeout(() => answer(res, 200, {
      id: "chatcmpl-fake", object: "chat.completion", created, model,
      choices: [{ index: 0, message: { role: "assistant", content: out.join(" ") }, finish_reason: "stop" }],
      usage,
    }), delayMs);
  }
  // Streamed: the first content after first_token_share of the delay, the rest spread to the end.
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const base = { id: "chatcmpl-fake", object: "chat.completion.chunk", created, model };
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
}

const server = https.createServer({ cert, key }, (req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const url = req.url.split("?")[0];
    if (req.method === "GET" && url === "/copilot_internal/v2/token") {
      return answer(res, 200, { token: "fake-copilot-token", refresh_in: 1500, expires_at: Math.floor(Date.now() / 1000) + 1800 });
    }
    if (req.method === "GET" && url === "/user") return answer(res, 200, { login: "fake-user", id: 1 });
    if (req.method === "GET" && url === "/models") return answer(res, 200, modelList());
    if (req.method === "GET" && url.startsWith("/cgit/")) return answer(res, 200, "pkgname=visual-studio-code-bin\npkgver=1.104.3\n");
    if (req.method === "POST" && url === "/chat/completions") {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      } catch (e) {
        return answer(res, 400, { error: { message: "bad json" } });
      }
      return completion(res, body);
    }
    answer(res, 404, { message: "Not Found" });
  });
});

server.listen(port, "127.0.0.1", () => {
  if (ready) fs.writeFileSync(ready, String(port));
});
