// The manifest: each package, its actions with their limits, its sequences as a chain of actions.
import { h, clear, $ } from "./dom.js";

function limits(action) {
  const l = action.limits;
  return `timeout ${l.timeout / 1000} s · memory ${l.memory ?? 256} MB · concurrency ${l.concurrency ?? 1}`;
}

function webLabel(entity) {
  return entity.web ? h("span", { class: "badge" }, entity.raw ? "web: raw" : "web") : null;
}

function chain(sequence) {
  const steps = sequence.components.flatMap((fqn, i) => [
    i ? h("span", { class: "arrow" }, "→") : null,
    h("span", { class: "step" }, fqn.split("/").pop()),
  ]);
  return h("div", { class: "sequence" },
    h("div", {}, h("strong", {}, sequence.name), " ", webLabel(sequence), h("span", { class: "muted" }, " sequence")),
    h("div", { class: "chain" }, steps));
}

export function renderManifest(manifest) {
  $("#manifest-namespace").textContent = `namespace ${manifest.namespace}`;
  clear($("#manifest-body"), manifest.packages.map((pkg) => h("div", { class: "package", dataset: { name: pkg.name } },
    h("h3", {}, `package ${pkg.name}`),
    pkg.sequences.map(chain),
    h("table", { class: "list" },
      h("thead", {}, h("tr", {}, h("th", {}, "Action"), h("th", {}, "Runtime"), h("th", {}, "Limits"), h("th", {}, "Inputs"))),
      h("tbody", {}, pkg.actions.map((a) => h("tr", { class: "manifest-action", dataset: { fqn: a.fqn } },
        h("td", {}, h("strong", {}, a.name), " ", webLabel(a)),
        h("td", {}, a.runtime),
        h("td", {}, limits(a)),
        h("td", { class: "muted" }, a.inputs.join(", ")))))))));
}
