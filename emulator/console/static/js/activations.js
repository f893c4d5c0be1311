// The activations list, newest first, like `wsk activation list`: filter by action and status,
// refreshed every two seconds while "live" is on. A row opens the record.
import { getJSON } from "./api.js";
import { $, h, clear, json, statusClass, time } from "./dom.js";

const POLL_MS = 2000;
const open = new Set(); // activation ids whose record is unfolded, kept across refreshes

function row(record) {
  const cells = h("tr", {
    class: "activation-row", dataset: { activationId: record.activationId },
    onclick: () => { open.has(record.activationId) ? open.delete(record.activationId) : open.add(record.activationId); refresh(); },
  },
    h("td", {}, time(record.start)),
    h("td", {}, h("code", {}, record.activationId)),
    h("td", {}, record.path),
    h("td", {}, record.kind || ""),
    h("td", {}, h("span", { class: `status ${statusClass(record.response.statusCode)}` }, record.response.status)),
    h("td", { class: "num" }, `${record.duration} ms`));
  if (!open.has(record.activationId)) return [cells];
  const detail = h("tr", { class: "activation-detail" }, h("td", { colspan: 6 },
    h("h4", {}, record.kind === "sequence" ? "Components" : "Logs"),
    h("pre", { class: "logs" }, record.logs.join("\n") || "(no logs)"),
    h("h4", {}, "Result"), h("pre", {}, json(record.response.result)),
    record.cause ? h("p", { class: "muted" }, `caused by sequence activation ${record.cause}`) : null));
  return [cells, detail];
}

export async function refresh() {
  const filters = { name: $("#activations-name").value, status: $("#activations-status").value, limit: 50 };
  try {
    const { items, total } = await getJSON("/console/api/activations", filters);
    clear($("#activations-body"), items.flatMap(row));
    $("#activations-count").textContent = `${total} record${total === 1 ? "" : "s"}`;
    $("#activations-empty").hidden = items.length > 0;
  } catch (err) {
    $("#activations-count").textContent = err.message;
  }
}

export function setupActivations(manifest) {
  const select = $("#activations-name");
  for (const pkg of manifest.packages) {
    for (const entity of [...pkg.sequences, ...pkg.actions]) {
      select.append(h("option", { value: entity.fqn }, entity.fqn));
    }
  }
  select.addEventListener("change", refresh);
  $("#activations-status").addEventListener("change", refresh);
  setInterval(() => { if ($("#activations-live").checked && !document.hidden) refresh(); }, POLL_MS);
  refresh();
}
