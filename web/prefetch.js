// The launch page's prefetch of the full app (the callback page's script, wasm and styles).
// `cargo xtask dist` writes the links into a template before this script, and this script
// without its comments. An EHR launch starts the prefetch at once: the page goes on to the
// sign-in once discovery has answered and the app has arrived (src/web/prefetch.rs). The
// standalone start page starts it once its own wasm runs, so that on a slow network the app
// does not share the bandwidth with what the page needs to show the choice of health system.
(function () {
  var links = document.getElementById("cairn-prefetch");
  if (!links || !links.content) {
    return;
  }
  function start() {
    document.head.appendChild(links.content.cloneNode(true));
  }
  if (/[?&]launch=/.test(location.search)) {
    start();
  } else {
    addEventListener("TrunkApplicationStarted", start);
  }
})();
