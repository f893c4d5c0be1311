// Activation records as bars on one time axis (start to end), each with its status; a bar opens
// its record: logs, result, annotations. A sequence's logs are its components' ids.
import { h, clear, json, statusClass, time } from "./dom.js";

function details(record) {
  const isSequence = record.kind === "sequence";
  return h("div", { class: "bar-details" },
    h("h4", {}, isSequence ? "Components (the sequence's logs)" : `Logs (${record.logs.length})`),
    h("pre", { class: "logs" }, record.logs.length ? record.logs.join("\n") : "(no logs)"),
    h("h4", {}, "Result"),
    h("pre", {}, json(record.response.result)),
    h("details", {}, h("summary", {}, "Annotations"), h("pre", {}, json(record.annotations))));
}

export function renderTimeline(container, records) {
  if (!records.length) {
    clear(container, h("p", { class: "muted" },
      "No activation: the request was answered before the sequence ran (see the answer)."));
    return;
  }
  const start = Math.min(...records.map((r) => r.start));
  const end = Math.max(...records.map((r) => r.end));
  const span = Math.max(end - start, 1);
  const rows = records.map((record) => {
    const left = ((record.start - start) / span) * 100;
    const width = Math.max(((record.end - record.start) / span) * 100, 0.5);
    const panel = h("div", { class: "bar-panel", hidden: true }, details(record));
    const bar = h("button", {
      type: "button",
      class: `bar ${statusClass(record.statusCode)}`,
      style: `margin-left:${left}%;width:${width}%`,
      title: `${record.path}: ${record.response.status}, ${record.duration} ms`,
      dataset: { activationId: record.activationId },
      onclick: () => { panel.hidden = !panel.hidden; },
    });
    const depth = record.kind === "sequence" ? 0 : 1;
    return h("div", { class: "timeline-row", dataset: { name: record.name } },
      h("div", { class: `timeline-label depth-${depth}` },
        h("strong", {}, record.name),
        h("span", { class: `status ${statusClass(record.statusCode)}` }, record.response.status),
        h("span", { class: "muted" }, `${record.end - record.start} ms`)),
      h("div", { class: "timeline-track" }, bar),
      panel);
  });
  clear(container,
    h("div", { class: "timeline-axis" },
      h("span", {}, time(start)), h("span", {}, `${span} ms`), h("span", {}, time(end))),
    rows,
    h("p", { class: "muted" }, "Click a bar for its logs and result (secrets redacted, as the activations API shows them)."));
}
