"""Run by the system Python that has QGIS (/usr/bin/python3, Debian `python3-qgis`), headless:
load gridmap's OGC API collections through QGIS's OAPIF provider and a GeoPackage through OGR,
count their features, and render one map PNG. Not a test module: tests/test_qgis.py runs it.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_probe.py JOB.json

JOB: {"oapif": "http://127.0.0.1:PORT/ogcapi", "collections": [...], "gpkg": PATH, "png": PATH}.
Prints one JSON line: {"qgis": version, "oapif": {id: {"valid", "count", "fields", "crs"}},
"gpkg": {layer: {...}}, "png": PATH}.
"""

from __future__ import annotations

import json
import sys


def step(msg: str) -> None:
    print(f"qgis_probe: {msg}", file=sys.stderr, flush=True)


def layer_report(layer) -> dict:
    if not layer.isValid():
        return {"valid": False, "count": None, "error": layer.error().summary()}
    count = sum(1 for _ in layer.getFeatures())  # what QGIS actually downloaded and parsed
    return {"valid": True, "count": count, "fields": [f.name() for f in layer.fields()],
            "crs": layer.crs().authid(), "geometry": layer.geometryType()}


def main(job_path: str) -> None:
    from qgis.core import QgsApplication

    job = json.load(open(job_path, encoding="utf-8"))
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], True)  # a GUI application (offscreen): rendering text needs QGuiApplication
    app.initQgis()
    out = probe(job)  # every layer and map object is freed when it returns: QGIS 3.22 crashes in
    print(json.dumps(out, ensure_ascii=False), flush=True)  # exitQgis() if one is still alive
    app.exitQgis()


def probe(job: dict) -> dict:
    from qgis.core import (
        QgsFillSymbol,
        QgsMapRendererSequentialJob,
        QgsMapSettings,
        QgsMarkerSymbol,
        QgsPalLayerSettings,
        QgsRectangle,
        QgsTextFormat,
        QgsVectorLayer,
        QgsVectorLayerSimpleLabeling,
    )
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    out: dict = {"qgis": __import__("qgis.core", fromlist=["Qgis"]).Qgis.QGIS_VERSION, "oapif": {}, "gpkg": {}}
    layers = {}
    for cid in job["collections"]:
        uri = f"url='{job['oapif']}' typename='{cid}' restrictToRequestBBOX='0'"
        lyr = QgsVectorLayer(uri, cid, "OAPIF")
        layers[cid] = lyr
        out["oapif"][cid] = layer_report(lyr)
        step(f"oapif {cid}: {out['oapif'][cid]}")
    gpkg_layers = {}
    for name in job.get("gpkg_layers", []):
        lyr = QgsVectorLayer(f"{job['gpkg']}|layername={name}", name, "ogr")
        gpkg_layers[name] = lyr
        out["gpkg"][name] = layer_report(lyr)
        step(f"gpkg {name}: {out['gpkg'][name]}")

    # the map: grids from the OGC API (labelled with their name), incidents on top, the county outline
    grid, incidents = layers.get("grid"), layers.get("incidents")
    drawn = [x for x in (incidents, grid, gpkg_layers.get("county")) if x is not None and x.isValid()]
    if grid is not None and grid.isValid():
        grid.setRenderer(grid.renderer().clone())
        grid.renderer().setSymbol(QgsFillSymbol.createSimple(
            {"color": "170,200,240,255", "outline_color": "20,40,120,255", "outline_width": "0.6"}))
        pal = QgsPalLayerSettings()
        pal.fieldName = "name"
        fmt = QgsTextFormat()
        fmt.setSize(14)
        fmt.setColor(QColor("black"))
        pal.setFormat(fmt)
        grid.setLabeling(QgsVectorLayerSimpleLabeling(pal))
        grid.setLabelsEnabled(True)
    if incidents is not None and incidents.isValid():
        incidents.renderer().setSymbol(QgsMarkerSymbol.createSimple({"name": "circle", "color": "220,30,30,255",
                                                                     "size": "4"}))
    if "county" in gpkg_layers and gpkg_layers["county"].isValid():
        gpkg_layers["county"].renderer().setSymbol(QgsFillSymbol.createSimple(
            {"color": "0,0,0,0", "outline_color": "0,0,0,255", "outline_width": "1.2", "outline_style": "dash"}))
    settings = QgsMapSettings()
    settings.setLayers(drawn)
    settings.setBackgroundColor(QColor("white"))
    settings.setOutputSize(QSize(1000, 500))
    if drawn:
        ext = QgsRectangle(drawn[-1].extent())
        for x in drawn:
            ext.combineExtentWith(x.extent())
        ext.scale(1.1)
        settings.setExtent(ext)
        settings.setDestinationCrs(drawn[-1].crs())
    step("rendering")
    render = QgsMapRendererSequentialJob(settings)
    render.start()
    render.waitForFinished()
    render.renderedImage().save(job["png"], "png")
    out["png"] = job["png"]
    return out


if __name__ == "__main__":
    main(sys.argv[1])
