// labelfuse studio: the page's script. Plain JavaScript, no build step. Every request carries the token from the
// page's meta tag in the X-Labelfuse-Token header (the server refuses changes without it).
"use strict";
const TOKEN = document.querySelector('meta[name="labelfuse-token"]').content;
const $ = (sel) => document.querySelector(sel);
let state = null;
let kind = "keyword";
let rowsKind = "labeled";
let selectedLF = null;

// the token stays out of the address bar (and out of screenshots and history) once the cookie is set
if (location.search.includes("token=")) history.replaceState(null, "", location.pathname);

async function api(method, path, body) {
  const opts = { method, headers: { "X-Labelfuse-Token": TOKEN } };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const res = await fetch(path, opts);
  const text = await res.text();
  let data;
  try { data = JSON.parse(text); } catch (e) { data = { error: text || res.statusText }; }
  if (!res.ok) throw Object.assign(new Error(data.error || res.statusText), { detail: data.detail || "" });
  return data;
}

const pct = (x) => (x === null || x === undefined) ? "–" : (100 * x).toFixed(1) + "%";
const num = (x, d = 3) => (x === null || x === undefined) ? "–" : Number(x).toFixed(d);
function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function bar(cls, x, scale) {
  const w = scale > 0 ? Math.min(100, 100 * (x || 0) / scale) : 0;
  return `<div class="bar ${cls}"><i style="width:${w}%"></i><span>${pct(x)}</span></div>`;
}

function showError(err) {
  const box = $("#error");
  if (!err) { box.hidden = true; box.textContent = ""; return; }
  box.hidden = false;
  box.textContent = err.message + (err.detail ? "\n\n" + err.detail : "");
}
function showWarnings(list) {
  const box = $("#warnings");
  box.hidden = !list || !list.length;
  box.textContent = (list || []).join("\n");
}

function setKind(k) {
  kind = k;
  document.querySelectorAll(".kind").forEach((b) => b.classList.toggle("active", b.dataset.kind === k));
  document.querySelectorAll(".for-keyword").forEach((e) => e.hidden = k !== "keyword");
  document.querySelectorAll(".for-regex").forEach((e) => e.hidden = k !== "regex");
  document.querySelectorAll(".for-python").forEach((e) => e.hidden = k !== "python");
  document.querySelectorAll(".for-spec").forEach((e) => e.hidden = k === "python");
  if (k === "python" && !$("#code").value && state) $("#code").value = state.starter_code;
}

function render(s, fresh) {
  state = s;
  const d = s.data;
  $("#data-info").textContent = `${d.rows} rows · ${d.dev_rows} dev rows · ${d.cardinality} classes · ` +
    `${d.fusion ? d.fusion + " over " : ""}${d.label_model}` + (d.embeddings ? " · embeddings" : "");
  fillSelect($("#label"), d.class_names.map((n, i) => [i, n]));
  fillSelect($("#field"), d.fields.map((f) => [f, f]), d.text);
  // the headline: the served model's dev accuracy, with the change made by the last edit
  const acc = s.dev ? s.dev.accuracy : null;
  $("#dev-accuracy").textContent = pct(acc);
  $("#dev-accuracy").title = s.dev ? `${s.dev.n} dev rows, ${s.dev.abstained} undecided (counted wrong)` : "no dev rows";
  const last = s.log[0];
  const delta = $("#dev-delta");
  delta.className = "delta"; delta.textContent = "";
  if (last && last.dev_before && last.dev_after) {
    const dd = last.dev_after.accuracy - last.dev_before.accuracy;
    delta.textContent = (dd >= 0 ? "+" : "") + (100 * dd).toFixed(1) + " pts";
    delta.classList.add(dd > 0 ? "up" : dd < 0 ? "down" : "same");
  }
  if (s.dev && s.dev.abstained) delta.textContent += ` · ${s.dev.abstained} undecided`;
  $("#total-coverage").textContent = pct(s.totals.coverage);
  $("#total-conflict").textContent = pct(s.totals.conflict);
  renderLFs(s, fresh);
  renderLog(s);
  renderCharts(s);
  loadPlots();
  document.body.dataset.version = s.version;
}

function renderCharts(s) {
  const h = s.charts.histogram;
  const top = h ? Math.max(1, ...h.counts) : 1;
  $("#hist-label").textContent = h ? "(" + h.xlabel + ")" : "";
  $("#histogram").innerHTML = h ? h.counts.map((c, i) =>
    `<i style="height:${(100 * c / top).toFixed(1)}%" title="${c} rows with ${h.edges[i].toFixed(2)}–${h.edges[i + 1].toFixed(2)}"></i>`).join("") : "";
  const cm = s.charts.confusion;
  if (!cm) { $("#confusion").innerHTML = `<tr><td class="muted">${s.lfs.length ? "no dev rows" : "no LFs yet"}</td></tr>`; return; }
  const max = Math.max(1, ...cm.counts.flat());
  $("#confusion").innerHTML = `<tr><th></th>${cm.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr>` +
    cm.counts.map((row, i) => `<tr><th>${esc(s.data.class_names[i])}</th>${row.map((c, j) =>
      `<td style="background:rgba(76,120,168,${(0.08 + 0.8 * c / max).toFixed(2)});color:${c > max / 2 ? "#fff" : "#222"}"` +
      ` class="${i === j ? "diag" : ""}">${c}</td>`).join("")}</tr>`).join("");
}

// matplotlib plots are slow to draw (about a second each): fetched only while their panel is open, one after
// another, and a moment after the last edit
let plotTimer = null;
function loadPlots() {
  clearTimeout(plotTimer);
  if (!$("#mpl-plots").open || !state) return;
  plotTimer = setTimeout(async () => {
    for (const p of ["lf_bars", "label_histogram", "confusion"]) {
      const img = $("#plot-" + p);
      await new Promise((done) => { img.onload = img.onerror = done; img.src = `/api/plots/${p}.svg?v=${state.version}`; });
    }
  }, 300);
}

function fillSelect(sel, options, value) {
  const html = options.map(([v, t]) => `<option value="${esc(v)}">${esc(t)}</option>`).join("");
  if (sel.dataset.html !== html) { const keep = sel.value; sel.innerHTML = html; sel.dataset.html = html;
    sel.value = value !== undefined && !keep ? value : (keep || options[0]?.[0]); }
}

function renderLFs(s, fresh) {
  const tbody = $("#lf-table tbody");
  const scale = Math.max(0.001, ...s.lfs.map((l) => l.coverage || 0));
  $("#lf-count").textContent = s.lfs.length ? `(${s.lfs.length})` : "";
  $("#no-lfs").hidden = s.lfs.length > 0;
  tbody.innerHTML = s.lfs.map((l) => {
    const votes = (l.correct ?? null) === null ? "–" : `${l.correct} / ${l.incorrect}`;
    const accCls = l.accuracy === null || l.accuracy === undefined ? "" : l.accuracy >= 0.8 ? "acc-good" : l.accuracy < 0.6 ? "acc-bad" : "";
    return `<tr data-name="${esc(l.name)}" class="${l.name === selectedLF ? "selected" : ""} ${l.name === fresh ? "fresh" : ""}">
      <td class="lf-name">${esc(l.name)}</td><td><span class="pill kind-${l.kind}">${l.kind}</span></td>
      <td>${l.polarity.map((p) => `<span class="pill">${esc(p)}</span>`).join("")}</td>
      <td class="coverage">${bar("cov", l.coverage, scale)}</td><td class="overlaps">${bar("ovl", l.overlaps, scale)}</td>
      <td class="conflicts">${bar("cfl", l.conflicts, scale)}</td>
      <td>${votes}</td><td class="accuracy ${accCls}">${pct(l.accuracy)}</td><td class="weight">${pct(l.weight)}</td>
      <td><button class="small remove" title="remove this LF">×</button></td></tr>`;
  }).join("");
}

function renderLog(s) {
  $("#log").innerHTML = s.log.map((e) => {
    const accs = Object.keys(e.accuracy_after || {}).map((k) =>
      `${esc(k)} ${pct((e.accuracy_before || {})[k])} → ${pct(e.accuracy_after[k])}`).join("; ");
    return `<li><b>${e.kind}</b> ${esc(e.name)}: ${e.changed_rows} rows changed, apply ${num(e.apply_ms, 1)} ms, ` +
      `refit ${num(e.refit_ms, 1)} ms${accs ? " · dev " + accs : ""}</li>`;
  }).join("");
}

async function refresh() {
  try { render(await api("GET", "/api/state")); } catch (e) { showError(e); }
}

function formBody() {
  if (kind === "python") return { kind, code: $("#code").value };
  const body = { kind, name: $("#lf-name").value.trim(), label: Number($("#label").value), field: $("#field").value };
  if (kind === "keyword") Object.assign(body, { keywords: $("#keywords").value, whole_word: $("#whole-word").checked,
    case_sensitive: $("#case-sensitive").checked });
  else Object.assign(body, { pattern: $("#pattern").value, ignore_case: $("#ignore-case").checked });
  return body;
}

async function edit(method, path, body) {
  const t0 = performance.now();
  try {
    const out = await api(method, path, body);
    showError(null); showWarnings(out.warnings);
    if (out.edit.kind !== "remove") selectedLF = out.edit.name in Object.fromEntries(out.state.lfs.map((l) => [l.name, 1])) ? out.edit.name : selectedLF;
    render(out.state, out.edit.name);
    const shown = performance.now() - t0;
    $("#edit-timing").textContent = `${out.edit.kind} ${out.edit.name}: shown in ${shown.toFixed(0)} ms ` +
      `(apply ${out.edit.apply_ms.toFixed(1)} ms, refit ${out.edit.refit_ms.toFixed(1)} ms)`;
    $("#edit-timing").dataset.ms = shown.toFixed(1);
    loadRows();
  } catch (e) { showError(e); }
}

function loadIntoEditor(name) {
  const l = state.lfs.find((x) => x.name === name);
  if (!l) return;
  selectedLF = name;
  setKind(l.kind);
  if (l.kind === "python") { $("#code").value = l.code || `# the source of ${name} is not available`; }
  else {
    $("#lf-name").value = l.name;
    $("#label").value = l.spec.label;
    $("#field").value = l.spec.field;
    if (l.kind === "keyword") { $("#keywords").value = l.spec.keywords.join(", ");
      $("#whole-word").checked = l.spec.whole_word; $("#case-sensitive").checked = l.spec.case_sensitive; }
    else { $("#pattern").value = l.spec.pattern; $("#ignore-case").checked = (l.spec.flags & 2) === 2; }
  }
  document.querySelectorAll("#lf-table tbody tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.name === name));
  rowsKind = "labeled"; loadRows();
}

async function loadRows() {
  document.querySelectorAll(".tab").forEach((b) => b.classList.toggle("active", b.dataset.rows === rowsKind));
  $("#rows-lf").textContent = selectedLF || "–";
  const tbody = $("#row-table tbody");
  if (rowsKind === "labeled" && !selectedLF) { tbody.innerHTML = `<tr><td colspan="6" class="muted">select an LF</td></tr>`; return; }
  const q = new URLSearchParams({ kind: rowsKind, n: "15" });
  if (rowsKind === "labeled") q.set("lf", selectedLF);
  try {
    const out = await api("GET", "/api/rows?" + q);
    tbody.innerHTML = out.rows.map((r) => `<tr data-row="${r.row}"><td>${r.row}</td><td>${esc(r.text)}</td>
      <td>${Object.entries(r.votes || {}).map(([k, v]) => `<span class="pill">${esc(k)}: ${esc(v)}</span>`).join("")}</td>
      <td>${esc(r.gold ?? "–")}</td><td>${esc(r.predicted ?? "undecided")}</td><td>${num(r.confidence, 2)}</td></tr>`).join("")
      || `<tr><td colspan="6" class="muted">no such rows</td></tr>`;
  } catch (e) { tbody.innerHTML = `<tr><td colspan="6" class="error">${esc(e.message)}</td></tr>`; }
}

async function loadNeighbors(row) {
  const box = $("#neighbors");
  box.hidden = false;
  $("#nb-row").textContent = row;
  try {
    const out = await api("GET", `/api/neighbors?row=${row}&n=10`);
    $("#nb-text").textContent = out.text;
    $("#nb-table tbody").innerHTML = out.rows.map((r) => `<tr><td>${r.row}</td><td>${num(r.similarity, 3)}</td>
      <td>${esc(r.text)}</td><td>${esc(r.gold ?? "–")}</td><td>${esc(r.predicted ?? "undecided")}</td></tr>`).join("");
  } catch (e) { $("#nb-text").textContent = e.message; $("#nb-table tbody").innerHTML = ""; }
}

// -- wiring ------------------------------------------------------------------------------------------------------------
document.querySelectorAll(".kind").forEach((b) => b.addEventListener("click", () => setKind(b.dataset.kind)));
document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => { rowsKind = b.dataset.rows; loadRows(); }));
$("#save-btn").addEventListener("click", () => edit("POST", "/api/lfs", formBody()));
$("#new-btn").addEventListener("click", () => { selectedLF = null; $("#lf-name").value = ""; $("#keywords").value = "";
  $("#pattern").value = ""; $("#code").value = state ? state.starter_code : ""; showError(null); });
$("#undo-btn").addEventListener("click", () => edit("POST", "/api/undo"));
$("#lf-table tbody").addEventListener("click", (ev) => {
  const tr = ev.target.closest("tr"); if (!tr) return;
  if (ev.target.classList.contains("remove")) { edit("DELETE", "/api/lfs/" + encodeURIComponent(tr.dataset.name)); return; }
  loadIntoEditor(tr.dataset.name);
});
$("#row-table tbody").addEventListener("click", (ev) => {
  const tr = ev.target.closest("tr[data-row]"); if (tr) loadNeighbors(Number(tr.dataset.row));
});
document.addEventListener("keydown", (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") { ev.preventDefault(); $("#save-btn").click(); }
  else if ((ev.ctrlKey || ev.metaKey) && ev.key === "z" && !ev.target.closest("input, textarea")) { ev.preventDefault(); $("#undo-btn").click(); }
});
$("#code").addEventListener("keydown", (ev) => {  // a tab key indents instead of leaving the editor
  if (ev.key !== "Tab") return;
  ev.preventDefault();
  const t = ev.target, s = t.selectionStart;
  t.value = t.value.slice(0, s) + "    " + t.value.slice(t.selectionEnd);
  t.selectionStart = t.selectionEnd = s + 4;
});
// exports: fetched with the token header, so an error (e.g. no LFs yet) is shown instead of saved as a file
document.querySelectorAll(".export").forEach((b) => b.addEventListener("click", async () => {
  const file = b.dataset.file;
  try {
    const res = await fetch("/api/export/" + file, { headers: { "X-Labelfuse-Token": TOKEN } });
    if (!res.ok) { const d = await res.json().catch(() => ({ error: res.statusText })); throw Object.assign(new Error(d.error), { detail: d.detail || "" }); }
    const url = URL.createObjectURL(await res.blob());
    const a = Object.assign(document.createElement("a"), { href: url, download: file });
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    showError(null);
  } catch (e) { showError(e); }
}));
$("#mpl-plots").addEventListener("toggle", loadPlots);
setKind("keyword");
refresh().then(loadRows);
