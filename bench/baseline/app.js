// The baseline of `cargo xtask bench`: a minimal SMART on FHIR app on fhirclient 2.6.3, as its
// README writes one. The EHR launch page calls `authorize` (PKCE required); the callback calls
// `ready`, then reads the Patient and runs the Encounter and Observation searches that Cairn
// runs (same categories, `_sort` and `_count`), all at once, following every `next` link, and
// appends each page to a plain table. It sets the same three marks as Cairn, with its own
// prefix: `baseline:banner`, `baseline:first-observations`, `baseline:all-loaded`.
(function () {
  "use strict";

  var CLIENT_ID = "fhirclient-baseline";
  // Cairn's scope (cairn.config.json), so the EHR does the same work for both.
  var SCOPE =
    "launch openid fhirUser online_access patient/Patient.rs patient/Encounter.rs patient/Observation.rs";

  var marked = {};

  // Marks `name` once, after the next frame has been painted (as Cairn's src/web/perf.rs).
  function markAfterPaint(name) {
    if (marked[name]) return;
    marked[name] = true;
    requestAnimationFrame(function () {
      setTimeout(function () {
        performance.mark(name);
      }, 0);
    });
  }

  function show(text) {
    document.getElementById("status").textContent = text;
  }

  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    tr.appendChild(td);
  }

  function codeText(concept) {
    if (!concept) return "";
    if (concept.text) return concept.text;
    var coding = (concept.coding || [])[0] || {};
    return coding.display || coding.code || "";
  }

  function quantity(q) {
    return q ? [q.value, q.unit].filter(function (x) { return x != null; }).join(" ") : "";
  }

  function valueText(o) {
    if (o.valueQuantity) return quantity(o.valueQuantity);
    if (o.valueCodeableConcept) return codeText(o.valueCodeableConcept);
    if (o.valueString != null) return o.valueString;
    if (o.component) {
      return o.component.map(function (c) { return quantity(c.valueQuantity); }).join(" / ");
    }
    return "";
  }

  function renderBanner(patient) {
    var name = (patient.name || [])[0] || {};
    var header = document.getElementById("banner");
    var h1 = document.createElement("h1");
    h1.textContent = name.text || [].concat(name.given || [], name.family || []).join(" ");
    var facts = document.createElement("p");
    facts.textContent = [patient.birthDate, patient.gender].join(" · ");
    header.appendChild(h1);
    header.appendChild(facts);
    markAfterPaint("baseline:banner");
  }

  function encounterRow(e) {
    var tr = document.createElement("tr");
    cell(tr, ((e.period || {}).start || "").slice(0, 10));
    cell(tr, codeText((e.type || [])[0]) || (e["class"] || {}).code);
    cell(tr, e.status);
    return tr;
  }

  function observationRow(o) {
    var tr = document.createElement("tr");
    cell(tr, o.effectiveDateTime || (o.effectivePeriod || {}).start);
    cell(tr, codeText(o.code));
    cell(tr, valueText(o));
    cell(tr, codeText((o.interpretation || [])[0]));
    return tr;
  }

  // Every page of `url`, each appended to `tbody` as it arrives.
  function search(client, url, tbody, row, resourceType) {
    return client.request(url, {
      pageLimit: 0,
      flat: true,
      onPage: function (resources) {
        var rows = document.createDocumentFragment();
        resources.forEach(function (r) {
          if (r && r.resourceType === resourceType) rows.appendChild(row(r));
        });
        var any = rows.childNodes.length > 0;
        tbody.appendChild(rows);
        if (any && resourceType === "Observation") markAfterPaint("baseline:first-observations");
      },
    });
  }

  function load(client) {
    var patient = "patient=" + encodeURIComponent(client.patient.id);
    var page = "&_sort=-date&_count=200";
    var encounters = document.getElementById("encounters");
    var observations = document.getElementById("observations");
    var banner = client.patient.read().then(renderBanner);
    var searches = [
      search(client, "Encounter?" + patient + page, encounters, encounterRow, "Encounter"),
      search(client, "Observation?" + patient + "&category=vital-signs" + page, observations,
        observationRow, "Observation"),
      search(client, "Observation?" + patient + "&category=laboratory" + page, observations,
        observationRow, "Observation"),
    ];
    Promise.all(searches).then(function () {
      markAfterPaint("baseline:all-loaded");
    });
    return Promise.all([banner].concat(searches)).then(function () {
      show("Loaded.");
    });
  }

  var params = new URLSearchParams(location.search);
  var started = params.has("launch")
    ? FHIR.oauth2.authorize({
        clientId: CLIENT_ID,
        scope: SCOPE,
        redirectUri: "./",
        pkceMode: "required",
        completeInTarget: true,
      })
    : FHIR.oauth2.ready().then(load);
  started.catch(function (error) {
    show("Failed: " + error.message);
  });
})();
