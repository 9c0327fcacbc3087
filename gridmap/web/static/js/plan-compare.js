/* The comparison page (/planner/compare): two plans' grids on two Leaflet maps kept on the same view,
 * coloured by what changed from A to B (the rest drawn light); a row of a balance table frames its grid
 * on both maps. Text from the server goes in with textContent only. */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("compare-data").textContent);
  var maps = {}, layers = {a: {}, b: {}}, syncing = false;
  window.gridmap = Object.assign(window.gridmap || {}, {compare: {maps: maps, layers: layers,
    loaded: function () { return Object.keys(layers.a).length + Object.keys(layers.b).length; }}});

  function style(side, code) {
    var kind = data.status[side][code] || "unchanged", changed = kind !== "unchanged";
    return {color: changed ? "#222" : "#8b97a3", weight: changed ? 2 : 0.8, fillColor: data.change_colours[kind],
            fillOpacity: changed ? 0.65 : 0.35};
  }

  function tip(side, p) {
    var el = document.createElement("span"), kind = data.status[side][p.code] || "unchanged";
    el.textContent = p.code + " " + (p.name || "") + " · " + (p.households != null ? p.households : "?") + " 户 · " +
      (data.change_labels[kind] || kind);
    return el;
  }

  function follow(from, to) {  // the other map shows the same place
    from.on("move", function () {
      if (syncing) { return; }
      syncing = true;
      to.setView(from.getCenter(), from.getZoom(), {animate: false});
      syncing = false;
    });
  }

  ["a", "b"].forEach(function (side) {
    var m = L.map("map-" + side, {maxZoom: 19, zoomSnap: 0.25, attributionControl: false});
    m.setView([35, 105], 4);
    maps[side] = m;
  });
  follow(maps.a, maps.b);
  follow(maps.b, maps.a);

  function load(side) {
    return window.gridmap.callJSON("GET", data.urls[side], undefined, "", "application/geo+json").then(function (res) {
      if (res.status !== 200) { throw new Error((res.out || {}).detail || ("HTTP " + res.status)); }
      var g = L.geoJSON(res.out, {
        style: function (f) { return style(side, f.properties.code); },
        onEachFeature: function (f, l) {
          layers[side][f.properties.code] = l;
          l.bindTooltip(function () { return tip(side, f.properties); }, {sticky: true});
        }
      }).addTo(maps[side]);
      g.eachLayer(function (l) {
        var code = l.feature.properties.code;
        if ((data.status[side][code] || "unchanged") !== "unchanged") { l.bringToFront(); }
      });
      return g;
    });
  }

  Promise.all([load("a"), load("b")]).then(function (both) {
    var b = both[0].getBounds().extend(both[1].getBounds());
    if (b.isValid()) { maps.a.fitBounds(b, {padding: [8, 8], animate: false}); }
  }).catch(function (e) {
    document.getElementById("cmp-summary").textContent = "加载失败 Could not load: " + e.message;
  });

  Array.prototype.forEach.call(document.querySelectorAll(".gm-table tr[data-code]"), function (tr) {
    tr.style.cursor = "pointer";
    tr.addEventListener("click", function () {
      var code = tr.getAttribute("data-code"), l = layers.a[code] || layers.b[code];
      if (l) { maps.a.fitBounds(l.getBounds().pad(1.5), {animate: false}); }
    });
  });
})();
