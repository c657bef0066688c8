// The officials' dashboard: one request for every panel, drawn as charts (Chart.js, served from
// this site) and as tables (the same numbers, for screen readers and for copying).
"use strict";

const CHANNELS = { web: "Web", tg: "Telegram", zalo: "Zalo", facebook: "Facebook" };
const COLORS = { web: "#1f6feb", tg: "#2aa198", zalo: "#d4760a", facebook: "#8250df" };
const KINDS = {
  unit_lookup: "Xã/phường cũ → mới", unit_reverse: "Xã/phường mới gồm", unit_count: "Số đơn vị",
  province_lookup: "Tỉnh", address: "Địa chỉ", duty_lookup: "Nhiệm vụ cơ quan",
  talking_points: "Luận điểm", document_facts: "Thông tin văn bản", general: "Câu hỏi chung",
};
const charts = {};
const nf = new Intl.NumberFormat("vi-VN");

function filters() {
  return new URLSearchParams({
    days: document.getElementById("days").value,
    channel: document.getElementById("channel").value,
  });
}

const LONG = 40;  // characters: a longer text (an example, an answer) may break anywhere

function cell(row, text, numeric) {
  const td = document.createElement(row.parentElement && row.parentElement.tagName === "THEAD" ? "th" : "td");
  td.textContent = text;
  if (numeric) td.className = "n";
  else if (String(text).length > LONG) td.className = "long";  // a run of 200 "x" must not widen the table
  row.appendChild(td);
}

function table(id, headers, rows) {
  const el = document.getElementById(id);
  el.replaceChildren();
  const head = el.createTHead().insertRow();
  headers.forEach(([label]) => { const th = document.createElement("th"); th.textContent = label; head.appendChild(th); });
  const body = el.createTBody();
  if (!rows.length) {
    const td = body.insertRow().insertCell();
    td.colSpan = headers.length;
    td.textContent = "Chưa có câu hỏi nào trong khoảng này.";
    return;
  }
  rows.forEach((r) => {
    const tr = body.insertRow();
    headers.forEach(([, key, format]) => {
      const value = r[key];
      const numeric = typeof value === "number";
      cell(tr, format ? format(value, r) : numeric ? nf.format(value) : (value ?? ""), numeric);
    });
  });
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart(document.getElementById(id), config);
}

function render(data) {
  const [latency] = data.latency;
  const votes = data.kinds.reduce((a, k) => [a[0] + k.thich, a[1] + k.khong_thich], [0, 0]);
  document.getElementById("total").textContent = nf.format(latency.cau_hoi);
  document.getElementById("refusal").textContent = `${Math.round(latency.ti_le_tu_choi * 100)}%`;
  document.getElementById("p95").textContent = latency.p95_ms == null ? "–" : `${nf.format(Math.round(latency.p95_ms))} ms`;
  document.getElementById("votes").textContent = `${nf.format(votes[0])} / ${nf.format(votes[1])}`;

  const days = [...new Set(data.daily.map((r) => r.ngay))];
  const channels = [...new Set(data.daily.map((r) => r.kenh))];
  draw("daily-chart", {
    type: "bar",
    data: {
      labels: days,
      datasets: channels.map((c) => ({
        label: CHANNELS[c] || c, backgroundColor: COLORS[c] || "#888",
        data: days.map((d) => (data.daily.find((r) => r.ngay === d && r.kenh === c) || {}).cau_hoi || 0),
      })),
    },
    options: { maintainAspectRatio: false, animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
  });
  table("daily", [["Ngày", "ngay"], ["Kênh", "kenh", (v) => CHANNELS[v] || v], ["Câu hỏi", "cau_hoi"], ["Bị từ chối", "tu_choi"]], data.daily);

  draw("kinds-chart", {
    type: "bar",
    data: {
      labels: data.kinds.map((k) => KINDS[k.loai] || k.loai),
      datasets: [
        { label: "Được trả lời", backgroundColor: "#1f6feb", data: data.kinds.map((k) => k.cau_hoi - k.tu_choi) },
        { label: "Bị từ chối", backgroundColor: "#b42318", data: data.kinds.map((k) => k.tu_choi) },
      ],
    },
    options: { indexAxis: "y", maintainAspectRatio: false, animation: false, scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } } },
  });
  const pct = (v) => (v == null ? "–" : `${Math.round(v * 100)}%`);
  table("kinds", [["Loại", "loai", (v) => KINDS[v] || v], ["Câu hỏi", "cau_hoi"], ["Bị từ chối", "tu_choi"],
    ["ms trung bình", "ms_tb"], ["Thích", "thich"], ["Chê", "khong_thich"], ["Tỉ lệ thích", "ti_le_thich", pct]], data.kinds);
  table("subjects", [["Loại", "loai", (v) => KINDS[v] || v], ["Đơn vị / tỉnh / văn bản", "doi_tuong"], ["Số lần hỏi", "cau_hoi"]], data.subjects);
  table("declined", [["Chủ đề còn thiếu", "chu_de"], ["Số câu", "cau_hoi"], ["Ví dụ", "vi_du"]], data.declined);
  table("unhelpful", [["Lúc", "luc"], ["Loại", "loai", (v) => KINDS[v] || v], ["Câu hỏi", "cau_hoi"], ["Câu trả lời đã đưa", "tra_loi"]], data.unhelpful);
  document.querySelectorAll("a.csv").forEach((a) => { a.href = `/api/admin/export/${a.dataset.panel}.csv?${filters()}`; });
}

// Why the figures did not come: the service's own words (its JSON `detail`, e.g. the database
// being down), else the status code.
async function problem(reply) {
  try {
    const body = await reply.json();
    if (typeof body.detail === "string") return body.detail;
  } catch (ignored) { /* not JSON */ }
  return `Không tải được số liệu (HTTP ${reply.status}). Thử lại sau.`;
}

async function load() {
  const status = document.getElementById("status");
  status.textContent = "Đang tải…";
  try {
    const reply = await fetch(`/api/admin/insights?${filters()}`, { credentials: "same-origin" });
    if (reply.status === 401) { window.location.assign("/admin"); return; }
    if (!reply.ok) throw new Error(await problem(reply));
    render(await reply.json());
    document.body.classList.remove("unavailable");
    status.textContent = "";
  } catch (error) {
    document.body.classList.add("unavailable");  // the message instead of empty charts
    status.textContent = error instanceof TypeError ? `Không tải được số liệu (${error.message}). Thử lại sau.` : error.message;
  }
}

document.getElementById("days").addEventListener("change", load);
document.getElementById("channel").addEventListener("change", load);
load();
