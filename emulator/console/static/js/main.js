// The console's entry point: load the manifest and the store, wire the exchange and the activations.
import { getJSON } from "./api.js";
import { $, h } from "./dom.js";
import { refresh as refreshActivations, setupActivations } from "./activations.js";
import { setupExchange } from "./exchange.js";
import { renderManifest } from "./manifest.js";
import { loadIntegrations, searchCustomers, setupStore } from "./store.js";

function fail(where, err) {
  $(where).prepend(h("p", { class: "error" }, err.message));
}

async function start() {
  let manifest = { namespace: "", packages: [], graphql: false };
  try {
    manifest = await getJSON("/console/api/manifest");
    renderManifest(manifest);
  } catch (err) { fail("#manifest", err); }
  setupActivations(manifest);
  if (!manifest.graphql) {
    $("#exchange").hidden = $("#store").hidden = $("#graphql-link").hidden = true;
    document.body.dataset.ready = "true";
    return;
  }
  setupStore();
  // After an exchange: its records, the customer it may have created, and the integrations as the store
  // has them now (one revoked from the command line shows it).
  setupExchange(() => { refreshActivations(); searchCustomers(); loadIntegrations().catch((err) => fail("#exchange", err)); });
  try { await loadIntegrations(); } catch (err) { fail("#exchange", err); }
  await searchCustomers(1); // it reports its own failure
  document.body.dataset.ready = "true";
}

start();
