// The store: integrations (consumer key masked, secrets never sent) and customers, searched by email.
import { getJSON } from "./api.js";
import { $, h, clear } from "./dom.js";

const PER_PAGE = 10;
let page = 1;

export async function loadIntegrations() {
  const integrations = await getJSON("/console/api/integrations");
  clear($("#integrations-body"), integrations.map((i) => h("tr", {},
    h("td", {}, i.id), h("td", {}, i.name), h("td", {}, h("code", {}, i.consumer_key)),
    h("td", {}, i.token_revoked ? "token revoked" : i.status), h("td", {}, i.resources.join(", ")),
    h("td", {}, i.created_at))));
  const select = $("#exchange-integration");
  const usable = integrations.filter((i) => i.status === "active" && !i.token_revoked);
  clear(select, integrations.map((i) => h("option", { value: i.id, disabled: !usable.includes(i) },
    `${i.name} (#${i.id}, ${i.consumer_key})`)));
  if (usable.length) select.value = String(usable[0].id);
  return integrations;
}

export async function searchCustomers(newPage = page) {
  page = Math.max(1, newPage);
  const result = await getJSON("/console/api/customers", { q: $("#customers-q").value, page, per_page: PER_PAGE });
  page = result.page;
  clear($("#customers-body"), result.items.map((c) => h("tr", { class: "customer-row" },
    h("td", {}, c.id), h("td", {}, c.email), h("td", {}, c.firstname), h("td", {}, c.lastname),
    h("td", {}, c.website_id), h("td", {}, c.is_subscribed ? "yes" : "no"), h("td", {}, c.created_at))));
  $("#customers-count").textContent = `${result.total} match${result.total === 1 ? "" : "es"}`;
  $("#customers-page").textContent = `page ${result.page} of ${result.pages}`;
  $("#customers-prev").disabled = result.page <= 1;
  $("#customers-next").disabled = result.page >= result.pages;
}

export function setupStore() {
  $("#customers-search").addEventListener("submit", (event) => { event.preventDefault(); searchCustomers(1); });
  $("#customers-prev").addEventListener("click", () => searchCustomers(page - 1));
  $("#customers-next").addEventListener("click", () => searchCustomers(page + 1));
}
