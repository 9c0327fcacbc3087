/* /map: the search box flies the overview map to a unit (its extent) or a gazetteer place (a marker). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("search-data").textContent);
  var map = window[cfg.map];
  var marker = null;
  window.gridmap.placeSearch({form: "place-form", input: "place-q", list: "place-results", message: "place-msg",
                              url: cfg.url, onPick: function (hit) {
    var ll = L.latLng(hit.lat, hit.lon);
    if (marker) { map.removeLayer(marker); }
    marker = L.circleMarker(ll, {radius: 9, color: "#c0392b", weight: 3, fillOpacity: 0.4}).addTo(map);
    var tip = document.createElement("span");
    tip.textContent = hit.name;
    marker.bindTooltip(tip, {permanent: true, direction: "top"});
    if (hit.bounds) {
      map.fitBounds([[hit.bounds[1], hit.bounds[0]], [hit.bounds[3], hit.bounds[2]]], {padding: [20, 20]});
    } else {
      map.setView(ll, Math.max(map.getZoom(), 15));
    }
  }});
  window.gridmap.searchMarker = function () { return marker; };
})();
