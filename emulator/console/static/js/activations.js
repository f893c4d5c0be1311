// The activations list, newest first, like `wsk activation list`: filter by action and status,
// refreshed every two seconds while "live" is on. A row opens the record.
import { getJSON } from "./api.js";
import { $, h, clear, json, statusClass, time } from "./dom.js";

const POLL_MS = 2000;
const open = new Set(); // activation ids whose record is unfolded, kept across refreshes
let shown = ""; // what the table shows now: a refresh that brings nothing new leaves it (and a selection) alone

function row(record) {
  const cells = h("tr", {
    class: "activation-row", dataset: { activationId: record.activationId },
    onclick: () => { open.has(record.activationId) ? open.delete(record.activationId) : open.add(record.activationId); refresh(); },
  },
    h("td", {}, time(record.start)),
    h("td", {}, h("code", {}, record.activationId)),
    h("td", {}, record.path),
    h("td", {}, record.kind || ""),
    h("td", {}, h("span", { class: `status ${statusClass(record.statusCode)}` }, record.response.status)),
    h("td", { class: "num" }, `${record.duration} ms`));
  if (!open.has(record.activationId)) return [cells];
  const detail = h("tr", { class: "activation-detail" }, h("td", { colspan: 6 },
    h("h4", {}, record.kind === "sequence" ? "Components" : "Logs"),
    h("pre", { class: "logs", dataset: { activationId: record.activationId } }, record.logs.join("\n") || "(no logs)"),
    h("h4", {}, "Result"), h("pre", {}, json(record.response.result)),
    record.cause ? h("p", { class: "muted" }, `caused by sequence activation ${record.cause}`) : null));
  return [cells, detail];
}

export async function refresh() {
  const filters = { name: $("#activations-name").value, status: $("#activations-status").value, limit: 50 };
  try {
    const { items, total } = await getJSON("/console/api/activations", filters);
    addNames(items.map((record) => record.path.split("/").slice(-2).join("/")));
    const state = JSON.stringify([filters, [...open], items.map((r) => r.activationId)]);
    if (state === shown) return;
    shown = state;
    const scrolled = new Map([...document.querySelectorAll("#activations-body pre.logs")]
      .map((pre) => [pre.dataset.activationId, pre.scrollTop]));
    clear($("#activations-body"), items.flatMap(row));
    for (const pre of document.querySelectorAll("#activations-body pre.logs")) {
      pre.scrollTop = scrolled.get(pre.dataset.activationId) || 0;
    }
    $("#activations-count").textContent = `${total} record${total === 1 ? "" : "s"}`;
    const empty = $("#activations-empty");
    empty.hidden = items.length > 0;
    empty.textContent = filters.name || filters.status ? "No activation matches these filters."
      : "No activation yet: run an exchange above.";
  } catch (err) {
    $("#activations-count").textContent = err.message;
    shown = ""; // the next answer redraws, whatever it holds
  }
}

function addNames(names) {
  const select = $("#activations-name");
  const known = new Set([...select.options].map((option) => option.value));
  for (const name of names) {
    if (!known.has(name)) {
      select.append(h("option", { value: name }, name));
      known.add(name);
    }
  }
}

export function setupActivations(manifest) {
  const select = $("#activations-name");
  addNames(manifest.packages.flatMap((pkg) => [...pkg.sequences, ...pkg.actions].map((entity) => entity.fqn)));
  select.addEventListener("change", refresh);
  $("#activations-status").addEventListener("change", refresh);
  setInterval(() => { if ($("#activations-live").checked && !document.hidden) refresh(); }, POLL_MS);
  refresh();
}
