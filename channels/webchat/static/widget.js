/* Web chat widget of the administrative procedures assistant. Embed with one tag:
   <script src="https://BOT-HOST/widget.js" defer></script>
   Plain JavaScript, no framework; the citizen's text is only ever set as textContent. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__tthcChat) return;
  window.__tthcChat = true;
  var base = script.src.replace(/\/widget\.js(\?.*)?$/, "");
  var pageMode = script.getAttribute("data-mode") === "page";
  var KEY = "tthc-webchat-session";
  var session = "";
  var last = 0;
  var started = false;
  var source = null;

  try { session = localStorage.getItem(KEY) || ""; } catch (e) { session = ""; }
  if (!/^[0-9a-f]{32}$/.test(session)) {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    session = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    try { localStorage.setItem(KEY, session); } catch (e) { /* the HttpOnly cookie keeps it */ }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }
  function uid() { return "m" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }

  var css = el("link", { rel: "stylesheet", href: base + "/widget.css" });
  document.head.appendChild(css);

  var root = el("div", { "class": "tthc-chat" + (pageMode ? " tthc-page" : "") });
  var launcher = el("button", { type: "button", "class": "tthc-launcher", "aria-expanded": "false",
    "aria-controls": "tthc-panel" }, "Hỏi đáp thủ tục hành chính");
  var panel = el("section", { id: "tthc-panel", "class": "tthc-panel", role: "dialog",
    "aria-labelledby": "tthc-title" });
  var head = el("header", { "class": "tthc-head" });
  head.appendChild(el("h2", { id: "tthc-title" }, "Trợ lý thủ tục hành chính"));
  var closer = el("button", { type: "button", "class": "tthc-close", "aria-label": "Đóng hộp trò chuyện" }, "×");
  if (!pageMode) head.appendChild(closer);
  var log = el("div", { "class": "tthc-log", role: "log", "aria-live": "off", "aria-relevant": "additions",
    "aria-label": "Tin nhắn", tabindex: "-1" });
  var status = el("p", { "class": "tthc-status", role: "status" });
  var form = el("form", { "class": "tthc-form" });
  var input = el("input", { id: "tthc-input", type: "text", maxlength: "2000", autocomplete: "off" });
  var file = el("input", { id: "tthc-file", type: "file", accept: "image/*,.pdf,application/pdf" });
  var send = el("button", { type: "submit", "class": "tthc-send" }, "Gửi");
  form.appendChild(el("label", { "for": "tthc-input", "class": "tthc-sr" }, "Câu hỏi của bạn"));
  form.appendChild(input);
  form.appendChild(el("label", { "for": "tthc-file", "class": "tthc-file-label" }, "Đính kèm ảnh hoặc PDF"));
  form.appendChild(file);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(status);
  panel.appendChild(form);
  if (!pageMode) root.appendChild(launcher);
  root.appendChild(panel);
  panel.hidden = !pageMode;
  (document.getElementById("tthc-chat-root") || document.body).appendChild(root);

  function call(method, path, body) {
    var opts = { method: method, credentials: "include", headers: { "X-Chat-Session": session } };
    if (body instanceof FormData) opts.body = body;
    else if (body) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    return fetch(base + path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error(data.error || "Không kết nối được máy chủ. Bạn vui lòng thử lại.");
        return data;
      });
    });
  }

  function show(m) {
    if (m.id <= last) return;
    last = m.id;
    var item = el("div", { "class": "tthc-msg tthc-" + (m.from === "user" ? "user" : "bot") });
    item.appendChild(el("span", { "class": "tthc-sr" }, m.from === "user" ? "Bạn: " : "Trợ lý: "));
    item.appendChild(el("p", {}, m.text));
    if (m.buttons && m.buttons.length) {
      var row = el("div", { "class": "tthc-buttons" });
      m.buttons.forEach(function (b) {
        if (b.url) {
          row.appendChild(el("a", { href: b.url, target: "_blank", rel: "noopener noreferrer" }, b.label));
        } else {
          var btn = el("button", { type: "button" }, b.label);
          btn.addEventListener("click", function () {
            post({ id: uid(), payload: b.payload, label: b.label });
            input.focus();
          });
          row.appendChild(btn);
        }
      });
      item.appendChild(row);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function post(body) {
    status.textContent = "";
    return call("POST", "/chat/api/messages", body).then(function () {
      if (!source) poll();
      return true;
    }, function (e) { status.textContent = e.message; return false; });
  }

  var timer = null;
  function poll() {
    return call("GET", "/chat/api/messages?after=" + last).then(function (data) {
      data.messages.forEach(show);
    }, function () { /* tried again at the next tick */ });
  }

  function listen() {
    if (window.EventSource) {
      source = new EventSource(base + "/chat/api/events?session=" + session + "&after=" + last,
        { withCredentials: true });
      source.onmessage = function (e) { show(JSON.parse(e.data)); };
    } else {
      timer = setInterval(poll, 2000);
    }
  }

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    input.focus();
    if (started) return;
    started = true;
    poll().then(function () {
      log.setAttribute("aria-live", "polite");  // what was there before is not read out again
      if (last === 0) post({ id: uid(), start: true });
      listen();
    });
  }

  function close() {
    if (pageMode) return;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  closer.addEventListener("click", close);
  root.addEventListener("keydown", function (e) { if (e.key === "Escape" && !panel.hidden) close(); });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    var chosen = file.files && file.files[0];
    if (!text && !chosen) return;
    var body = { id: uid(), text: text };
    if (chosen) {
      body = new FormData();
      body.append("id", uid());
      body.append("text", text);
      body.append("file", chosen, chosen.name);
    }
    post(body).then(function (ok) {
      if (ok) { input.value = ""; file.value = ""; }
      input.focus();
    });
  });
  if (pageMode) open();
  window.addEventListener("pagehide", function () {
    if (source) source.close();
    if (timer) clearInterval(timer);
  });
})();
