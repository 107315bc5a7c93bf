// The Outlast console's own script: live updates over the event streams, and a confirm on
// destructive forms. Pages work without it (reload to refresh; the server still checks CSRF).
"use strict";

function confirmForms() {
  // One listener for every form, so that forms a live refresh puts in the page ask too.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

// The parts of a page marked data-refresh are fetched again (the same page, rendered by the
// server) after an event that changes them: one fetch at a time, and one more if events came
// while it ran. The stream carries the events; the page's figures come from the server.
const refresh = { running: false, again: false };

function refreshParts() {
  if (refresh.running) {
    refresh.again = true;
    return;
  }
  refresh.running = true;
  fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.text() : null))
    .then((html) => {
      if (!html) return;
      const fresh = new DOMParser().parseFromString(html, "text/html");
      document.querySelectorAll("[data-refresh]").forEach((part) => {
        const next = fresh.getElementById(part.id);
        if (next) part.innerHTML = next.innerHTML;
      });
    })
    .catch(() => {})
    .finally(() => {
      refresh.running = false;
      if (refresh.again) {
        refresh.again = false;
        refreshParts();
      }
    });
}

function stamp(at) {
  // As the server renders it: "YYYY-MM-DD HH:MM:SS" (the stream sends "YYYY-MM-DD HH:MM:SS.ffffff+00:00").
  return String(at).replace("T", " ").slice(0, 19);
}

function label(state) {
  return state.replaceAll("_", " ");
}

function setState(container, state) {
  const badge = container.querySelector("[data-state]");
  if (!badge || !state) return;
  badge.textContent = label(state);
  badge.className = "state state-" + state;
}

function follow(url, onEvent, onToken) {
  // EventSource reconnects by itself and sends Last-Event-ID: the server resumes from it.
  const status = document.getElementById("live-status");
  const source = new EventSource(url);
  source.addEventListener("open", () => { if (status) status.textContent = "Live updates: on"; });
  source.addEventListener("error", () => { if (status) status.textContent = "Live updates: reconnecting…"; });
  source.addEventListener("task_event", (message) => onEvent(JSON.parse(message.data)));
  if (onToken) source.addEventListener("token", (message) => onToken(JSON.parse(message.data)));
}

function showToken(box, delta) {
  // One block per model call and attempt: a retried or failed-over attempt starts its text again.
  const key = `${delta.call_id}/${delta.attempt}`;
  let block = box.querySelector(`pre[data-call="${CSS.escape(key)}"]`);
  if (!block) {
    box.querySelector(".empty")?.remove();
    const title = document.createElement("p");
    title.textContent = `Model call ${delta.call_id}, attempt ${delta.attempt}`;
    block = document.createElement("pre");
    block.dataset.call = key;
    box.append(title, block);
  }
  block.textContent += delta.text;
}

function cell(text, code) {
  const td = document.createElement("td");
  const inner = code ? document.createElement("code") : td;
  inner.textContent = text;
  if (code) td.appendChild(inner);
  return td;
}

function tasksPage(table) {
  const body = table.querySelector("tbody");
  follow(table.dataset.stream, (event) => {
    let row = body.querySelector(`tr[data-task="${CSS.escape(event.task_id)}"]`);
    // New tasks join the list unless a filter the stream cannot apply (text, time, an older page) is on.
    if (!row && event.kind === "submitted" && table.dataset.add !== "no") {
      body.querySelector("tr.empty")?.remove();
      row = document.createElement("tr");
      row.dataset.task = event.task_id;
      const pick = document.createElement("td");
      const box = document.createElement("input");
      box.type = "checkbox"; box.name = "task_id"; box.value = event.task_id;
      box.setAttribute("aria-label", "Select task " + event.task_id);
      pick.appendChild(box);
      const link = document.createElement("td");
      const a = document.createElement("a");
      a.href = "/console/tasks/" + encodeURIComponent(event.task_id);
      const code = document.createElement("code");
      code.textContent = event.task_id;
      a.appendChild(code); link.appendChild(a);
      const stateCell = document.createElement("td");
      const badge = document.createElement("span");
      badge.dataset.state = "";
      stateCell.appendChild(badge);
      const attempts = cell("0");
      attempts.dataset.attempts = "";
      row.append(pick, link, cell(event.graph || ""), stateCell, attempts, cell(stamp(event.at)));
      body.prepend(row);
    }
    if (!row) return;
    setState(row, event.to_state || event.state);
    const attempts = row.querySelector("[data-attempts]");
    if (attempts && event.kind === "claimed" && event.attempt != null) {
      const [, max] = attempts.textContent.split("/");
      attempts.textContent = max ? `${event.attempt}/${max}` : String(event.attempt);
    }
  });
}

function taskPage(facts) {
  const timeline = document.getElementById("timeline");
  follow(facts.dataset.stream, (event) => {
    if (timeline.querySelector(`li[data-event="${event.id}"]`)) return;
    const item = document.createElement("li");
    item.dataset.event = event.id;
    const when = document.createElement("time");
    when.textContent = stamp(event.at);
    const kind = document.createElement("strong");
    kind.textContent = event.kind;
    item.append(when, " ", kind);
    if (event.from_state || event.to_state) {
      const move = document.createElement("span");
      move.textContent = ` ${event.from_state || "·"} → ${event.to_state || "·"}`;
      item.append(move);
    }
    if (event.worker_id) {
      const worker = document.createElement("span");
      worker.textContent = ` worker ${event.worker_id} (epoch ${event.lease_epoch})`;
      item.append(worker);
    }
    timeline.append(item);
    if (event.to_state) {
      setState(facts, event.to_state);
      refreshParts();
    }
  }, (delta) => showToken(document.getElementById("tokens"), delta));
}

document.addEventListener("DOMContentLoaded", () => {
  confirmForms();
  const table = document.querySelector("table[data-stream]");
  if (table) tasksPage(table);
  const facts = document.querySelector("dl[data-stream]");
  if (facts) taskPage(facts);
});
