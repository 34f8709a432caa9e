// The baseline of `cargo xtask bench`: a minimal SMART on FHIR app on fhirclient 2.6.3, as its
// README writes one. The EHR launch page calls `authorize` (PKCE required); the callback calls
// `ready`, then makes, all at once, the FHIR requests Cairn made in the bench's first launch
// (the bench writes them into index.html's `bench-requests` meta: the Patient read, the Encounter
// search, one Observation search per category, the launch Encounter read; `{patient}` and
// `{encounter}` stand for the launch context), following every `next` link, and appends each
// page to a plain table. It sets the same three marks as Cairn, with its own prefix:
// `baseline:banner`, `baseline:first-observations`, and `baseline:all-loaded` once every search
// has read its last page.
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

  // Cairn's requests, relative to the FHIR base, with the launch context filled in.
  function requests(client) {
    var meta = document.querySelector('meta[name="bench-requests"]');
    var list = JSON.parse((meta && meta.content) || "null");
    if (!Array.isArray(list) || list.length === 0) {
      throw new Error("no bench-requests in index.html");
    }
    return list.map(function (url) {
      return url
        .split("{patient}").join(encodeURIComponent(client.patient.id))
        .split("{encounter}").join(encodeURIComponent(client.encounter.id || ""));
    });
  }

  function load(client) {
    var encounters = document.getElementById("encounters");
    var observations = document.getElementById("observations");
    var searches = [];
    var reads = [];
    requests(client).forEach(function (url) {
      if (url.indexOf("Patient/") === 0) {
        reads.push(client.request(url).then(renderBanner));
      } else if (url.indexOf("Encounter?") === 0) {
        searches.push(search(client, url, encounters, encounterRow, "Encounter"));
      } else if (url.indexOf("Observation?") === 0) {
        searches.push(search(client, url, observations, observationRow, "Observation"));
      } else if (url.indexOf("?") >= 0) {
        searches.push(client.request(url, { pageLimit: 0, flat: true }));
      } else {
        reads.push(client.request(url));
      }
    });
    Promise.all(searches).then(function () {
      markAfterPaint("baseline:all-loaded");
    });
    return Promise.all(reads.concat(searches)).then(function () {
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
