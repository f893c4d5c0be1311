// The store: integrations (consumer key masked, secrets never sent) and customers, searched by email.
import { getJSON } from "./api.js";
import { $, h, clear } from "./dom.js";

const PER_PAGE = 10;
let page = 1;
let query = ""; // the search last submitted: the pager pages through it, not through the box's draft

export async function loadIntegrations() {
  const integrations = await getJSON("/console/api/integrations");
  clear($("#integrations-body"), integrations.map((i) => h("tr", {},
    h("td", {}, i.id), h("td", {}, i.name), h("td", {}, h("code", {}, i.consumer_key)),
    h("td", {}, i.token_revoked ? "token revoked" : i.status), h("td", {}, i.resources.join(", ")),
    h("td", {}, i.created_at))));
  const select = $("#exchange-integration");
  const current = select.value; // a refresh keeps the user's choice while it may still exchange
  const usable = integrations.filter((i) => i.status === "active" && !i.token_revoked);
  const permitted = integrations.filter((i) => i.may_exchange); // usable, and granted the resource
  clear(select, integrations.map((i) => h("option", { value: i.id, disabled: !usable.includes(i) },
    `${i.name} (#${i.id}, ${i.consumer_key})${usable.includes(i) ? (permitted.includes(i) ? "" : ", no permission")
      : i.token_revoked ? ", revoked" : ", inactive"}`)));
  const chosen = usable.find((i) => String(i.id) === current) || permitted[0] || usable[0];
  if (chosen) select.value = String(chosen.id);
  $("#exchange-none").hidden = permitted.length > 0;
  return integrations;
}

export async function searchCustomers(newPage = page) {
  page = Math.max(1, newPage);
  let result;
  try {
    result = await getJSON("/console/api/customers", { q: query, page, per_page: PER_PAGE });
  } catch (err) {
    clear($("#customers-body"), []);
    $("#customers-count").textContent = `search failed: ${err.message}`;
    return;
  }
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
  $("#customers-search").addEventListener("submit", (event) => {
    event.preventDefault();
    query = $("#customers-q").value;
    searchCustomers(1);
  });
  $("#customers-prev").addEventListener("click", () => searchCustomers(page - 1));
  $("#customers-next").addEventListener("click", () => searchCustomers(page + 1));
}
