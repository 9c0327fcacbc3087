/* Keyboard users: map shapes are not tab stops.
 * Leaflet makes every interactive SVG path (a grid polygon: 100 of them on the overview, more on
 * the report page) and every marker icon (grid labels, clusters) focusable, so Tab walked through
 * hundreds of shapes before reaching the form or the links. Grids are reached by the lists, the
 * place search and the links instead; the map keeps its own keyboard control (arrows, +/-) when the
 * map container has the focus. Markers that carry a popup (incidents) stay reachable.
 */
(function () {
  "use strict";
  var SHAPES = "path.leaflet-interactive, .leaflet-marker-icon.gm-label, .leaflet-marker-icon.gm-grid-label";
  function quiet(root) {
    if (!root || !root.querySelectorAll) { return; }
    var found = root.querySelectorAll(SHAPES);
    for (var i = 0; i < found.length; i++) {
      if (found[i].getAttribute("tabindex") !== "-1") { found[i].setAttribute("tabindex", "-1"); }
      found[i].setAttribute("focusable", "false");
    }
  }
  function watch() {
    quiet(document);
    var pending = false;
    new MutationObserver(function () {
      if (pending) { return; }
      pending = true;  // one pass per frame, however many shapes Leaflet adds at once
      requestAnimationFrame(function () { pending = false; quiet(document); });
    }).observe(document.body, {childList: true, subtree: true});
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", watch); } else { watch(); }
})();
