/* gridmap overview layers: grids, their fill (choropleth), labels and open incidents, drawn by
 * Leaflet from compact data that the page embeds, or fetched by the map's bounding box
 * (/map/grids.geojson?bbox=...&zoom=...) as the user pans, for stores too large to embed.
 *
 * Text in the embedded data was made safe by the server (HTML-escaped, see gridmap.maps.layers
 * _safe) and is inserted as HTML; text fetched from JSON endpoints is escaped here (esc).
 * No network access beyond the app itself.
 */
(function () {
  "use strict";

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"'`$\\]/g, function (c) {
      return "&#" + c.charCodeAt(0) + ";";
    });
  }

  function fill(template, code) {
    return template.replace("__CODE__", encodeURIComponent(code));
  }

  /* A set of grid features: embedded (opts.data) or loaded by bbox from opts.url. Listeners get
   * (features, reset): reset means "replace what you show", otherwise "add these". */
  function source(map, opts) {
    var src = {map: map, opts: opts, features: [], byId: {}, listeners: [], zoom: null, seq: 0, truncated: null};
    src.on = function (fn) {
      src.listeners.push(fn);
      if (src.features.length) fn(src.features, true);
    };
    function emit(features, reset) {
      src.listeners.forEach(function (fn) { fn(features, reset); });
    }
    function take(fc, reset) {
      if (reset) { src.features = []; src.byId = {}; }
      var added = [];
      fc.features.forEach(function (f) {
        if (!src.byId[f.id]) { src.byId[f.id] = f; src.features.push(f); added.push(f); }
      });
      emit(reset ? src.features : added, reset);
    }
    if (opts.data) {
      take(opts.data, true);
      return src;
    }
    var notice = L.control({position: "topleft"});
    notice.onAdd = function () {
      var div = L.DomUtil.create("div", "gm-legend gm-notice");
      div.style.display = "none";
      return div;
    };
    notice.addTo(map);
    var controller = null;
    function load() {
      var z = Math.round(map.getZoom());
      var b = map.getBounds().pad(0.25);
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); });
      var seq = ++src.seq;
      if (controller) controller.abort();
      controller = window.AbortController ? new AbortController() : null;
      var url = opts.url + (opts.url.indexOf("?") < 0 ? "?" : "&") + "bbox=" + bbox.join(",") + "&zoom=" + z;
      fetch(url, {credentials: "same-origin", signal: controller ? controller.signal : undefined})
        .then(function (r) { return r.json(); })
        .then(function (fc) {
          if (seq !== src.seq) return;
          var box = notice.getContainer();
          src.truncated = fc.truncated ? fc.matched : null;
          if (fc.truncated) {
            box.innerHTML = "此范围有 " + esc(fc.matched) + " 个网格，放大后显示<br>Zoom in to see the " +
              esc(fc.matched) + " grids here";
            box.style.display = "";
            take({features: []}, true);
            src.zoom = null;
            return;
          }
          box.style.display = "none";
          var reset = src.zoom !== z || src.features.length > (opts.keep || 20000);
          src.zoom = z;
          take(fc, reset);
        })
        .catch(function (e) { if (!e || e.name !== "AbortError") console.warn("gridmap: grids not loaded", e); });
    }
    map.on("moveend", load);
    map.whenReady(load);
    return src;
  }

  function tooltipOf(f) {
    return esc(f.id) + " " + (f.properties.n || "");
  }

  function teamRows(team, safe) {
    if (!team || !team.length) return "<tr><th>队伍 Team</th><td>—</td></tr>";
    return team.map(function (t) {
      var name = safe ? t[1] : esc(t[1]);
      var phone = t[2] ? " " + (safe ? t[2] : esc(t[2])) : "";
      return "<tr><th>" + (safe ? t[0] : esc(t[0])) + "</th><td><span class=\"gm-staff\">" + name + "</span>" +
        phone + "</td></tr>";
    }).join("");
  }

  function popupHtml(f, opts, team, safe) {
    var p = f.properties;
    var zone = (opts.zoneNames || {})[p.z];
    var rows = [
      ["网格 Grid", (p.n || "") + "<br>" + esc(f.id)],
      ["管区 Zone", zone != null ? zone : esc(p.z || "")],
      ["户数 Households", p.hh != null ? esc(p.hh) : "—"],
      ["在办事件 Open", esc(p.o || 0) + (p.r != null ? " (" + esc(p.r.toFixed(1)) + "/百户)" : "")]
    ].map(function (r) { return "<tr><th>" + r[0] + "</th><td>" + r[1] + "</td></tr>"; }).join("");
    var body = team === undefined ? "<tr><th>队伍 Team</th><td>…</td></tr>" : teamRows(team, safe);
    var link = opts.gridHref ? "<br><a href=\"" + esc(fill(opts.gridHref, f.id)) + "\">详情 Details →</a>" : "";
    return "<table class=\"gm-popup\">" + rows + body + "</table>" + link;
  }

  /* Grid outlines with a tooltip and a popup card (its 1+1+N team embedded, or fetched). */
  function gridLayer(src, opts) {
    var style = {color: opts.colour || "#1f4e79", weight: opts.weight || 1.5, fillOpacity: 0.04,
                 className: opts.className || "gm-grid"};
    var layer = L.geoJSON(null, {
      style: function () { return style; },
      onEachFeature: function (f, l) {
        l.bindTooltip(tooltipOf(f), {sticky: true});
        var team = f.properties.t;
        l.bindPopup(popupHtml(f, opts, team, true), {maxWidth: 360});
        if (team === undefined && opts.gridJson) {
          l.on("popupopen", function () {
            if (l._gmTeam) return;
            fetch(fill(opts.gridJson, f.id), {credentials: "same-origin"})
              .then(function (r) { return r.json(); })
              .then(function (d) {
                l._gmTeam = (d.staff || []).map(function (s) { return [s.role_label, s.name, s.phone]; });
                l.setPopupContent(popupHtml(f, opts, l._gmTeam, false));
              })
              .catch(function () { l.setPopupContent(popupHtml(f, opts, [], false)); });
          });
        }
        l.on("mouseover", function () { l.setStyle({weight: style.weight + 2, fillOpacity: 0.15}); });
        l.on("mouseout", function () { l.setStyle(style); });
      }
    });
    src.on(function (features, reset) {
      if (reset) layer.clearLayers();
      layer.addData(features);
    });
    return layer;
  }

  /* Grids filled by incidents per 100 households (colour computed by the server). */
  function fillLayer(src, opts) {
    var layer = L.geoJSON(null, {
      style: function (f) {
        return {fillColor: f.properties.f || opts.noData, fillOpacity: 0.7, weight: 0, className: "gm-fill"};
      },
      onEachFeature: function (f, l) {
        var p = f.properties;
        var rate = p.r != null ? esc(p.r.toFixed(1)) : "—";
        l.bindTooltip(tooltipOf(f) + "<br>" + esc(p.o || 0) + " 件, " + rate + " /百户", {sticky: true});
      }
    });
    src.on(function (features, reset) {
      if (reset) layer.clearLayers();
      layer.addData(features);
    });
    return layer;
  }

  /* Grid names at each grid's inside point, from opts.minZoom on, only for the grids in view. */
  function labelLayer(src, map, opts) {
    var group = L.layerGroup();
    var max = opts.max || 600;
    function draw() {
      group.clearLayers();
      if (!map.hasLayer(group) || map.getZoom() < opts.minZoom) return;
      var b = map.getBounds().pad(0.1), n = 0;
      for (var i = 0; i < src.features.length && n < max; i++) {
        var f = src.features[i], lp = f.properties.lp;
        if (!lp || !b.contains(lp)) continue;
        n++;
        L.marker(lp, {icon: L.divIcon({className: opts.className || "gm-grid-label", html: "<div>" + (f.properties.n || "") + "</div>"}),
                      interactive: false, keyboard: false, zIndexOffset: -1000}).addTo(group);
      }
    }
    map.on("moveend", draw);
    group.on("add", function () { setTimeout(draw, 0); });
    src.on(function () { draw(); });
    return group;
  }

  /* Open incidents as awesome markers coloured by status, clustered. rows: [lat, lon, colour,
   * id, category, status, reported, description], text already safe. */
  function incidentLayer(rows, opts) {
    var cluster = L.markerClusterGroup(opts.cluster || {});
    var markers = rows.map(function (r) {
      var icon = L.AwesomeMarkers.icon({icon: "circle-exclamation", prefix: "fa", markerColor: r[2],
                                        iconColor: "white", extraClasses: "fa-rotate-0"});
      return L.marker([r[0], r[1]], {icon: icon})
        .bindPopup("<b>" + r[4] + "</b> · " + r[5] + "<br>" + r[6] + " · #" + esc(r[3]) + "<br>" + r[7], {maxWidth: 300})
        .bindTooltip(r[4]);
    });
    cluster.addLayers(markers);
    return cluster;
  }

  window.gridmap = {esc: esc, source: source, gridLayer: gridLayer, fillLayer: fillLayer,
                    labelLayer: labelLayer, incidentLayer: incidentLayer};
})();
