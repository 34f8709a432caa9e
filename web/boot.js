// Runs before Cairn's WebAssembly, in any browser (ES5 on purpose: legacy embedded browsers such
// as Internet Explorer controls must run it too). A browser without what Cairn needs to sign in
// safely gets a plain explanation instead of a blank page, and the app does not start.
(function () {
  var missing = [];
  if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function") {
    missing.push("WebAssembly");
  }
  if (!(window.crypto && typeof window.crypto.getRandomValues === "function")) {
    missing.push("a secure random number generator (crypto.getRandomValues)");
  }
  try {
    window.sessionStorage.setItem("cairn.probe", "1");
    window.sessionStorage.removeItem("cairn.probe");
  } catch (e) {
    missing.push("session storage");
  }
  if (missing.length === 0) {
    return;
  }
  document.documentElement.className += " cairn-unsupported";
  function show() {
    var boot = document.getElementById("boot");
    if (!boot) {
      return;
    }
    boot.className = "screen screen--problem";
    boot.setAttribute("role", "alert");
    while (boot.firstChild) {
      boot.removeChild(boot.firstChild);
    }
    var title = document.createElement("h1");
    title.className = "problem__title";
    title.appendChild(document.createTextNode("This browser cannot run Cairn"));
    var detail = document.createElement("p");
    detail.className = "problem__detail";
    detail.appendChild(document.createTextNode("It lacks " + missing.join(", ") + "."));
    var next = document.createElement("p");
    next.className = "problem__next";
    next.appendChild(document.createTextNode(
      "Open Cairn in an up-to-date browser (Chrome, Edge, Firefox or Safari). Inside Epic, ask " +
      "your administrator to open it in the Edge-based embedded browser."
    ));
    boot.appendChild(title);
    boot.appendChild(detail);
    boot.appendChild(next);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", show);
  } else {
    show();
  }
})();
