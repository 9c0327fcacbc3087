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
    var src = {map: map, opts: opts, features: [], byId: {}, listeners: [], zoom: null, seq: 0, truncated: null,
               fillOn: false, styled: []};
    src.setFill = function (on) {
      src.fillOn = on;
      src.styled.forEach(function (layer) { layer.setStyle(function (f) { return layer.options.style(f); }); });
    };
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
    var embedded = opts.dataId && document.getElementById(opts.dataId);
    var data = embedded ? JSON.parse(embedded.textContent) : opts.data;
    if (data) {
      take(data, true);
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

  /* Rings encoded by gridmap.maps.geo.encode_polygons: integers in millionths of a degree, the
   * first lon, lat absolute, then differences. */
  function decodeRing(r) {
    var out = new Array(r.length / 2), x = 0, y = 0;
    for (var i = 0, j = 0; i < r.length; i += 2, j++) {
      x += r[i]; y += r[i + 1];
      out[j] = new L.LatLng(y / 1e6, x / 1e6);
    }
    return out;
  }

  /* Add features to an L.GeoJSON layer as addData does; features carrying encoded polygons ("g")
   * are built straight into L.Polygon, without GeoJSON coordinate arrays in between. */
  function addFeatures(layer, features) {
    var opts = layer.options;
    for (var i = 0; i < features.length; i++) {
      var f = features[i];
      if (!f.g) { layer.addData(f); continue; }
      if (!f.g.length) continue;
      var latlngs = f.g.length === 1 ? f.g[0].map(decodeRing)
        : f.g.map(function (p) { return p.map(decodeRing); });
      var l = new L.Polygon(latlngs, opts.renderer ? {renderer: opts.renderer} : {});
      l.feature = f;
      l.defaultOptions = l.options;
      layer.resetStyle(l);
      if (opts.onEachFeature) opts.onEachFeature(f, l);
      layer.addLayer(l);
    }
  }

  /* window.gridmapDrawn: performance.now() after the first frame painted with grids in it. */
  function drawn() {
    if (window.gridmapDrawn || drawn.pending) return;
    drawn.pending = true;
    requestAnimationFrame(function () {
      requestAnimationFrame(function () { window.gridmapDrawn = performance.now(); });
    });
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

  /* Grid outlines with a tooltip and a popup card (its 1+1+N team embedded, or fetched), filled
   * by incidents per 100 households while the source's fill is on (see fillLayer). Tooltip and
   * popup contents are built when first shown. */
  function gridLayer(src, opts) {
    var base = {color: opts.colour || "#1f4e79", weight: opts.weight || 1.5, className: opts.className || "gm-grid"};
    function style(f) {
      if (src.fillOn) return L.extend({fillColor: f.properties.f || opts.noData || "#cccccc", fillOpacity: 0.7}, base);
      return L.extend({fillOpacity: 0.04}, base);
    }
    var layer = L.geoJSON(null, {
      style: style,
      // many grids draw faster on one canvas than as thousands of SVG paths
      renderer: opts.canvas ? L.canvas({padding: 0.3, tolerance: 2}) : undefined,
      onEachFeature: function (f, l) {
        l._gmGrid = true;  // (tests and benchmarks count these: canvas-drawn grids have no <path>)
        l.bindTooltip(function () {
          var p = f.properties, text = tooltipOf(f);
          if (src.fillOn) text += "<br>" + esc(p.o || 0) + " 件, " + (p.r != null ? esc(p.r.toFixed(1)) : "—") + " /百户";
          return text;
        }, {sticky: true});
        l.bindPopup(function () { return popupHtml(f, opts, l._gmTeam !== undefined ? l._gmTeam : f.properties.t, l._gmTeam === undefined); },
                    {maxWidth: 360});
        if (f.properties.t === undefined && opts.gridJson) {
          l.on("popupopen", function () {
            if (l._gmTeam !== undefined) return;
            fetch(fill(opts.gridJson, f.id), {credentials: "same-origin"})
              .then(function (r) { return r.json(); })
              .then(function (d) { l._gmTeam = (d.staff || []).map(function (s) { return [s.role_label, s.name, s.phone]; }); })
              .catch(function () { l._gmTeam = []; })
              .then(function () { if (l.isPopupOpen()) l.setPopupContent(popupHtml(f, opts, l._gmTeam, false)); });
          });
        }
        l.on("mouseover", function () { l.setStyle({weight: base.weight + 2, fillOpacity: src.fillOn ? 0.85 : 0.15}); });
        l.on("mouseout", function () { layer.resetStyle(l); });
      }
    });
    src.styled.push(layer);
    src.on(function (features, reset) {
      if (reset) layer.clearLayers();
      addFeatures(layer, features);
      if (features.length) drawn();
    });
    return layer;
  }

  /* The choropleth switch in the layer control: while on, the grids are filled by their class
   * colour (computed by the server). One set of polygons serves both. */
  function fillLayer(src) {
    var Toggle = L.Layer.extend({
      onAdd: function () { src.setFill(true); },
      onRemove: function () { src.setFill(false); }
    });
    return new Toggle();
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
    var cluster = L.markerClusterGroup(L.extend({chunkedLoading: true}, opts.cluster || {}));
    // the markers are made after the first frame is painted: the grids show first
    requestAnimationFrame(function () { setTimeout(fill, 0); });
    return cluster;

    function fill() {
      cluster.addLayers(rows.map(marker));
    }

    function marker(r) {
      var icon = L.AwesomeMarkers.icon({icon: "circle-exclamation", prefix: "fa", markerColor: r[2],
                                        iconColor: "white", extraClasses: "fa-rotate-0"});
      return L.marker([r[0], r[1]], {icon: icon})
        .bindPopup("<b>" + r[4] + "</b> · " + r[5] + "<br>" + r[6] + " · #" + esc(r[3]) + "<br>" + r[7], {maxWidth: 300})
        .bindTooltip(r[4]);
    }
  }

  // Too many incidents to draw one by one (maps/aggregates.py): one bubble per map cell with
  // its count, in Leaflet.markercluster's own bubble style. cells: [[lat, lon, count], ...]
  function aggregateLayer(cells, opts) {
    // bubbles of nearby cells merge as markercluster merges markers: a bubble shows the sum
    var group = L.markerClusterGroup({maxClusterRadius: 50, showCoverageOnHover: false, chunkedLoading: true,
                                      iconCreateFunction: function (cl) {
                                        var sum = 0;
                                        cl.getAllChildMarkers().forEach(function (m) { sum += m.options.count; });
                                        return bubble(sum);
                                      }});
    group.addLayers(cells.map(function (c) {
      return L.marker([c[0], c[1]], {icon: bubble(c[2]), count: c[2], keyboard: false})
        .bindTooltip(c[2] + " " + opts.label);
    }));
    return group;

    function bubble(n) {
      var size = n < 100 ? "small" : (n < 1000 ? "medium" : "large");
      var text = n < 10000 ? String(n) : Math.round(n / 1000) + "k";
      return L.divIcon({html: "<div><span>" + text + "</span></div>", iconSize: L.point(40, 40),
                        className: "marker-cluster marker-cluster-" + size});
    }
  }

  window.gridmap = {esc: esc, source: source, gridLayer: gridLayer, fillLayer: fillLayer,
                    labelLayer: labelLayer, incidentLayer: incidentLayer, aggregateLayer: aggregateLayer};
})();
