/* The planner page: the grids' labels (after planner.js). National-style codes end in zone serial +
 * grid serial: "001-003" names a grid within its town. Where two grids of the plan would share a label
 * ("003-003" in two towns), both show more of their code, three digits at a time ("001-003-003"),
 * until every label is unique. Only the grids in view and wide enough at this zoom get a label. */
(function () {
  "use strict";

  var P = window.gridmapPlanner;
  if (!P || !P.plan) { return; }
  var map = P.map, layers = P.layers, props = P.props, rows = P.rows, shortCodes = P.labels;

  function suffix(code, groups) {
    var parts = [];
    for (var i = 0; i < groups; i++) {
      var end = code.length - 3 * i;
      if (end - 3 < 0) { return code; }
      parts.unshift(code.slice(end - 3, end));
    }
    return parts.join("-");
  }
  P.computeShortCodes = function () {
    var codes = Object.keys(rows).filter(function (c) { return c.length > 9 && /^\d+$/.test(c); });
    var groups = {};
    codes.forEach(function (c) { groups[c] = 2; });
    for (var round = 0; round < 6; round++) {
      var seen = {};
      codes.forEach(function (c) { var k = suffix(c, groups[c]); (seen[k] = seen[k] || []).push(c); });
      var clash = false;
      Object.keys(seen).forEach(function (k) {
        if (seen[k].length > 1) { clash = true; seen[k].forEach(function (c) { groups[c] += 1; }); }
      });
      if (!clash) { break; }
    }
    Object.keys(shortCodes).forEach(function (c) { delete shortCodes[c]; });
    codes.forEach(function (c) { shortCodes[c] = suffix(c, groups[c]); });
  };
  P.shortCode = function (code) { return shortCodes[code] || code; };

  P.drawLabels = function () {
    P.labelLayer.clearLayers();
    var view = map.getBounds();
    Object.keys(layers).forEach(function (code) {
      var l = layers[code], b = l.getBounds();
      if (!view.intersects(b)) { return; }
      var w = map.latLngToContainerPoint(b.getNorthEast()).x - map.latLngToContainerPoint(b.getSouthWest()).x;
      if (w < 48) { return; }  // too small at this zoom: the tooltip still names it
      var el = document.createElement("div"), p = props[code] || {};
      el.textContent = (p.locked ? "[锁] " : "") + P.shortCode(code);
      if (p.households != null) {
        var small = document.createElement("small");
        small.textContent = p.households + " 户";
        el.appendChild(small);
      }
      L.marker(labelPoint(l, b), {icon: L.divIcon({className: "gm-label", html: el, iconSize: null}),
                               interactive: false, keyboard: false}).addTo(P.labelLayer);
    });
  };
  map.on("zoomend moveend", function () { P.drawLabels(); });

  function labelPoint(l, bounds) {
    try {  // the centroid of the (first) outer ring; a multi-part grid may not have one Leaflet can find
      var c = l.getCenter();
      if (isFinite(c.lat) && isFinite(c.lng)) { return c; }
    } catch (e) { /* fall through */ }
    return bounds.getCenter();
  }
})();
