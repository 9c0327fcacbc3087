/* The residents' report page (/report): pick a place on the map or use the phone's location,
 * choose a category, describe, optionally add a photo, submit to POST /api/v1/incidents (JSON, or
 * multipart/form-data with the photo).
 * Plain Leaflet (vendored), no CDN. Every piece of text from users or the server is written
 * with textContent, never innerHTML. */
(function () {
  "use strict";

  // Our words in the reader's language: base.html's <script type="application/json" id="i18n"> block,
  // filled by the server's catalogs (web/js_messages.py); %(name)s placeholders are filled from `params`.
  var messages = JSON.parse((document.getElementById("i18n") || {}).textContent || "{}");
  function T(msgid, params) {
    return (messages[msgid] || msgid).replace(/%\((\w+)\)s/g, function (all, name) {
      return params && name in params ? String(params[name]) : all;
    });
  }

  var data = JSON.parse(document.getElementById("report-data").textContent);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var $ = function (id) { return document.getElementById(id); };
  var form = $("report-form");
  var picked = null;          // {lat, lon}
  var gridNames = {};         // code -> name, from the grids drawn
  var marker = null, accuracy = null;

  // -- the map ------------------------------------------------------------------------------
  var map = L.map("report-map", {maxZoom: 19, zoomSnap: 0.5, attributionControl: !!data.basemap});
  if (data.basemap) {
    L.tileLayer(data.basemap, {maxZoom: 19, attribution: escapeText(data.basemap_attr || "basemap")}).addTo(map);
    map.attributionControl.setPrefix(false);
  }
  L.control.scale({imperial: false}).addTo(map);
  window.gridmap = Object.assign(window.gridmap || {}, {reportMap: map});  // for tests and the console

  function label(props) {
    var el = document.createElement("span");
    el.textContent = (props.name || "") + " " + (props.code || "");
    return el;
  }

  function drawGrids(fc, focusCode) {
    var layer = L.geoJSON(fc, {
      style: function (f) {
        var focus = f.properties && (f.properties.focus || f.properties.code === focusCode);
        return focus ? {color: "#c0392b", weight: 4, fillOpacity: 0.08, fillColor: "#c0392b"}
                     : {color: "#1f4e79", weight: 1.5, fillOpacity: 0.04, fillColor: "#1f4e79"};
      },
      onEachFeature: function (f, l) {
        var p = f.properties || {};
        var code = p.code || f.id;
        if (code) { gridNames[code] = p.name || ""; }
        var focus = p.focus || code === focusCode;
        l.bindTooltip(label({code: code, name: p.name}),
                      focus ? {permanent: true, direction: "center", className: "gm-tip"} : {sticky: true});
      }
    }).addTo(map);
    return layer;
  }

  if (data.grid) {
    drawGrids(data.features, data.grid.code);
    map.fitBounds(data.grid.bounds, {padding: [16, 16], animate: false});
  } else {
    map.setView([35.0, 105.0], 4);
    fetch(data.urls.units, {headers: {Accept: "application/geo+json, application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (fc) {
        var layer = drawGrids(fc, null);
        if (fc.features && fc.features.length) { map.fitBounds(layer.getBounds(), {padding: [8, 8]}); }
      })
      .catch(function () {
        $("geo-msg").textContent = T("Could not load the grids; you can still tap the map.");
      });
  }

  map.on("click", function (e) { choose(e.latlng, "map"); });

  // -- the search box: a keyboard way to a location (the marker can then be dragged) ---------------
  window.gridmap.placeSearch({form: "place-form", input: "place-q", list: "place-results", message: "place-msg",
                              url: data.urls.places, onPick: function (hit) {
    var ll = L.latLng(hit.lat, hit.lon);
    if (hit.bounds) {
      map.fitBounds([[hit.bounds[1], hit.bounds[0]], [hit.bounds[3], hit.bounds[2]]], {padding: [16, 16], animate: false});
    } else {
      map.setView(ll, Math.max(map.getZoom(), 16), {animate: false});
    }
    choose(ll, "search");
  }});

  function choose(latlng, how) {
    picked = {lat: round6(latlng.lat), lon: round6(latlng.lng)};
    if (!marker) {
      marker = L.marker(latlng, {draggable: true, keyboard: false, title: T("Location of the report")}).addTo(map);
      marker.on("dragend", function () { choose(marker.getLatLng(), "drag"); });
    } else {
      marker.setLatLng(latlng);
    }
    if (how !== "gps" && accuracy) { map.removeLayer(accuracy); accuracy = null; }
    $("geo-msg").textContent = "";  // a location is chosen: an earlier "location denied" no longer matters
    setError("location", "");
    $("form-errors").textContent = "";  // an earlier refusal was about the earlier place
    $("loc-status").textContent = T("Location: %(lat)s, %(lon)s", {lat: picked.lat.toFixed(5), lon: picked.lon.toFixed(5)}) + " …";
    var here = picked;
    var url = data.urls.locate + "?lon=" + encodeURIComponent(here.lon) + "&lat=" + encodeURIComponent(here.lat);
    fetch(url).then(function (r) { return r.ok ? r.json() : null; }).then(function (loc) {
      if (picked !== here) { return; }  // the user tapped again meanwhile
      var where = T("Location: %(lat)s, %(lon)s", {lat: here.lat.toFixed(5), lon: here.lon.toFixed(5)}) + " · ";
      if (loc && loc.in_jurisdiction === false) {
        where += T("Outside the jurisdiction: reports from here cannot be taken.");
        setError("location", T("This place is outside the jurisdiction: tap inside the grids."));
      } else if (loc && loc.grid) {
        where += T("Grid %(grid)s", {grid: gridLabel(loc.grid)});
      } else if (loc && loc.nearest) {
        where += T("outside every grid; nearest %(grid)s (%(m)s m)", {grid: gridLabel(loc.nearest), m: Math.round(loc.distance_m)});
      } else {
        where += T("outside every grid (goes to the town's queue)");
      }
      $("loc-status").textContent = where;
    }).catch(function () { /* offline for a moment: the server assigns the grid anyway */ });
  }

  function gridLabel(code) {
    return gridNames[code] ? gridNames[code] + " " + code : code;
  }

  // -- the phone's location -------------------------------------------------------------------
  $("use-location").addEventListener("click", function () {
    var msg = $("geo-msg");
    msg.textContent = "";
    if (!("geolocation" in navigator)) {
      msg.textContent = T("This browser cannot give your location: tap the map.");
      return;
    }
    if (window.isSecureContext === false) {
      msg.textContent = T("Your browser gives its location only over HTTPS: tap the map instead.");
      return;
    }
    var button = this;
    button.disabled = true;
    $("loc-status").textContent = T("Finding your location…");
    navigator.geolocation.getCurrentPosition(function (pos) {
      button.disabled = false;
      var ll = L.latLng(pos.coords.latitude, pos.coords.longitude);
      choose(ll, "gps");
      if (accuracy) { map.removeLayer(accuracy); }
      accuracy = L.circle(ll, {radius: pos.coords.accuracy || 0, weight: 1, color: "#2980b9", fillOpacity: 0.1}).addTo(map);
      map.setView(ll, Math.max(map.getZoom(), 17));
    }, function (err) {
      button.disabled = false;
      $("loc-status").textContent = picked ? $("loc-status").textContent : T("No location yet.");
      var why = {
        1: T("Location permission was denied."),
        2: T("Your position is unavailable right now."),
        3: T("Finding your location took too long.")
      }[err && err.code] || T("Could not get your location.");
      msg.textContent = why + " " + T("Tap the map where the problem is instead.");
    }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
  });

  // -- the form -------------------------------------------------------------------------------
  $("category").addEventListener("change", function () {
    var opt = this.options[this.selectedIndex];
    $("category-hint").textContent = (opt && opt.getAttribute("data-description")) || "";
    setError("category", "");
  });

  function setError(field, text) {
    var el = document.querySelector('[data-error-for="' + field + '"]');
    if (el) { el.textContent = text; }
  }

  function clearErrors() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-error-for]"), function (el) { el.textContent = ""; });
    $("form-errors").textContent = "";
  }

  // A 422 detail is "summary\n  - field: problem\n  - ...": put each problem next to its field.
  function showProblems(detail) {
    var lines = String(detail || "").split("\n");
    var rest = [lines[0]];
    var fields = {category: 1, location: 1, description: 1, reporter_name: 1, reporter_phone: 1, photo: 1};
    var alias = {crs: "location", lon: "location", lat: "location", first_name: "reporter_name", phone: "reporter_phone"};
    lines.slice(1).forEach(function (line) {
      var text = line.replace(/^\s*-\s*/, "");
      var m = /^([a-z_]+):\s*/.exec(text);
      var field = m && (fields[m[1]] ? m[1] : alias[m[1]]);
      if (field) {
        var el = document.querySelector('[data-error-for="' + field + '"]');
        el.textContent = el.textContent ? el.textContent + "\n" + text : text;
      } else if (text) {
        rest.push(text);
      }
    });
    $("form-errors").textContent = T("Not sent: %(problems)s", {problems: rest.join("\n")});
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    clearErrors();
    if (!picked) {
      setError("location", T("Tap the map (or use your location) first."));
      $("report-map").scrollIntoView({behavior: "smooth", block: "center"});
      return;
    }
    var body = {category: form.elements.category.value, description: form.elements.description.value,
                lon: picked.lon, lat: picked.lat, source: "web"};
    var name = form.elements.reporter_name.value.trim(), phone = form.elements.reporter_phone.value.trim();
    if (name) { body.reporter_name = name; }
    if (phone) { body.reporter_phone = phone; }
    var file = chosenPhoto();
    if (file && data.photo && file.size > data.photo.max_bytes) {
      setError("photo", T("The photo is too large (%(size)s MB, the limit is %(max)s MB): choose another or remove it.",
                          {size: mb(file.size), max: data.photo.max_mb}));
      return;
    }
    var button = $("submit");
    button.disabled = true;
    button.textContent = file ? T("Sending the photo…") : T("Sending…");
    (file ? sendWithPhoto(body, file) : window.gridmap.callJSON("POST", data.urls.report, body, csrf)).then(function (res) {
      if (res.status === 201) {
        done(res.out);
      } else if ((res.status === 422 || res.status === 413) && /^(照片|photo)/.test(String(res.out.detail || ""))) {
        setError("photo", res.out.detail);  // the photo's own problem: say it by the photo field
        $("form-errors").textContent = T("Not sent: %(problems)s", {problems: String(res.out.detail).split("\n")[0]});
      } else if (res.status === 422) {
        showProblems(res.out.detail);
      } else if (res.status === 429) {
        $("form-errors").textContent = T("Too many reports from here: try again in a minute.");
      } else {
        $("form-errors").textContent = T("Not sent (%(status)s): %(detail)s", {status: res.status, detail: res.out.detail || res.out.title || ""});
      }
    }).catch(function () {
      $("form-errors").textContent = T("Network error: nothing was sent, please try again.");
    }).then(function () {
      button.disabled = false;
      button.textContent = T("Submit");
    });
  });

  // -- the photo (optional): a preview here, then the report goes as multipart/form-data --------
  var photoInput = $("photo");
  var previewUrl = null;

  function chosenPhoto() {
    return photoInput && photoInput.files && photoInput.files.length ? photoInput.files[0] : null;
  }

  function mb(n) { return (n / 1024 / 1024).toFixed(1); }

  function size(n) { return n < 1024 * 1024 ? Math.max(1, Math.round(n / 1024)) + " KB" : mb(n) + " MB"; }

  function showPreview() {
    var file = chosenPhoto();
    setError("photo", "");
    if (previewUrl) { URL.revokeObjectURL(previewUrl); previewUrl = null; }
    $("photo-preview").hidden = !file;
    if (!file) { return; }
    var img = $("photo-preview-img");
    img.hidden = false;
    img.onerror = function () { img.hidden = true; };  // HEIC: the browser may not draw it; the server will
    previewUrl = URL.createObjectURL(file);
    img.src = previewUrl;
    $("photo-name").textContent = file.name + " · " + size(file.size);
    if (data.photo && file.size > data.photo.max_bytes) {
      setError("photo", T("The photo is over the limit of %(max)s MB.", {max: data.photo.max_mb}));
    }
  }

  function clearPhoto() {
    if (!photoInput) { return; }
    photoInput.value = "";
    showPreview();
  }

  if (photoInput) {
    photoInput.addEventListener("change", showPreview);
    $("photo-clear").addEventListener("click", clearPhoto);
  }

  function sendWithPhoto(body, file) {
    var fd = new FormData();
    Object.keys(body).forEach(function (k) { fd.append(k, String(body[k])); });
    fd.append("photo", file, file.name || "photo.jpg");
    return fetch(data.urls.report, {method: "POST", credentials: "same-origin", body: fd,
                                    headers: {"Accept": "application/json", "X-CSRFToken": csrf || ""}})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (out) { return {status: r.status, out: out}; });
      });
  }

  function done(out) {
    clearPhoto();
    $("done-id").textContent = "#" + out.id;
    $("done-grid").textContent = out.grid_code
      ? gridLabel(out.grid_code)
      : T("none (the town %(town)s will handle it)", {town: out.town_code || ""});
    var link = $("done-status");
    // The token rides in the fragment (#token=...), which the browser never sends to the server;
    // the status page keeps it in localStorage, as this page does now, for rating and reopening.
    link.href = data.urls.status + encodeURIComponent(out.id) + "#token=" + encodeURIComponent(out.reporter_token || "");
    var kept = window.gridmap.myReports && window.gridmap.myReports.remember(out.id, out.reporter_token);
    $("done-kept").hidden = !kept;
    $("done-token").textContent = out.reporter_token || "";
    var ack = (out.acknowledgement && out.acknowledgement.text) || "";
    $("done-ack").hidden = !ack;
    $("done-ack").textContent = ack;  // the auto-acknowledgement (reply template), as text
    var dups = out.possible_duplicates || [];
    $("done-dups").hidden = !dups.length;
    $("done-dups").textContent = dups.length ? T("Similar nearby reports: #%(ids)s", {ids: dups.join(", #")}) : "";
    form.hidden = true;
    $("use-location").hidden = true;
    $("report-done").hidden = false;
    $("report-done").scrollIntoView({behavior: "smooth", block: "start"});
  }

  $("report-another").addEventListener("click", function () {
    form.reset();
    clearErrors();
    $("category-hint").textContent = "";
    $("report-done").hidden = true;
    form.hidden = false;
    $("use-location").hidden = false;
  });

  function round6(x) { return Math.round(x * 1e6) / 1e6; }

  function escapeText(s) {  // Leaflet writes attributions as HTML
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
})();
