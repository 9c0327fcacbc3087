"""Residents' photos (issue #12): checked by content, bounded, stored without EXIF beside the store,
served by the privacy policy, on the API, the report form's multipart post and Open311.

Both store backends (SQLite and PostGIS) through the `services` fixture: the photo's record is
written in the incident's transaction, the files in the photo folder (tmp_path).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from gridmap import create_app
from gridmap.incidents.actors import Actor
from gridmap.settings import Settings
from gridmap.web.auth import create_token, create_user

IN_G2 = (116.15, 39.05)  # inside the sample's second grid
DISPATCHER = Actor("disp", "dispatcher")
GPS_TAG = 0x8825  # EXIF GPSInfo IFD
ORIENTATION = 0x0112


def jpeg_with_gps(size=(640, 480), orientation: int | None = None, color=(200, 40, 40)) -> bytes:
    """A camera-like JPEG: EXIF with a GPS position (and an orientation), a red left half."""
    img = Image.new("RGB", size, (255, 255, 255))
    img.paste(Image.new("RGB", (size[0] // 2, size[1]), color), (0, 0))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel X"  # Model
    gps = exif.get_ifd(GPS_TAG)
    gps.update({1: "N", 2: (37.0, 26.0, 10.5), 3: "E", 4: (116.0, 18.0, 2.25)})
    if orientation:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def photo_root(app) -> Path:
    from gridmap.incidents.photo_intake import photo_folder

    root = photo_folder(app.extensions["gridmap"].settings)
    assert root is not None
    return root


def stored_files(app) -> list[Path]:
    root = photo_root(app)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def app(services, tmp_path):
    # a folder of its own on both backends: PostgreSQL has no file to put it beside
    app = create_app(Settings(db=services.settings.db, photo_dir=str(tmp_path / "photos"),
                              photo_max_bytes=2_000_000, photo_max_pixels=4_000_000))
    yield app
    app.extensions["gridmap"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


def post(client, photo: bytes | None, name="photo.jpg", field="photo", **fields):
    data = {"category": "exposed_rubbish", "lon": str(IN_G2[0]), "lat": str(IN_G2[1]), "description": "路口垃圾",
            **fields}
    if photo is not None:
        data[field] = upload(photo, name)
    return multipart(client, "/api/v1/incidents", data)


def upload(data: bytes, name: str) -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name, content_type="application/octet-stream")


def multipart(client, url: str, data: dict):
    """POST `data` as multipart/form-data, encoded in memory (the test client's own encoder spools a
    large body to a temporary file that stays open when the server refuses it unread)."""
    boundary, body = encode_multipart(data)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def staff_headers(app) -> dict:
    store = app.extensions["gridmap"].store
    create_user(store, "disp", "secret-pass", "dispatcher")
    return {"Authorization": f"Bearer {create_token(store, 'disp')}"}


def file_it(app, iid: str) -> None:
    app.extensions["gridmap"].incidents.act(iid, "file", DISPATCHER)


# -- stored without EXIF, oriented, with a thumbnail ---------------------------------------------
def test_the_stored_photo_has_no_exif_gps_and_staff_see_it_at_once(app, client):
    sent = jpeg_with_gps()
    assert Image.open(io.BytesIO(sent)).getexif().get_ifd(GPS_TAG)  # the test's photo does carry GPS
    r = post(client, sent)
    assert r.status_code == 201, r.json
    assert r.json["photo"] is None and r.json["photo_withheld"] is True  # the public answer: not yet
    iid = r.json["id"]
    staff = client.get(f"/api/v1/incidents/{iid}", headers={"Authorization": staff_headers_cached(app)}).json
    photo = staff["photo"]
    assert photo["url"].startswith("http://localhost/photos/") and photo["width"] == 640
    got = client.get(photo["url"])
    assert got.status_code == 403 and "立案" in got.get_data(as_text=True)  # the public, before filing
    got = client.get(photo["url"], headers={"Authorization": staff_headers_cached(app)})
    assert got.status_code == 200 and got.mimetype == "image/jpeg" and "private" in got.headers["Cache-Control"]
    img = Image.open(io.BytesIO(got.data))
    assert img.format == "JPEG" and img.size == (640, 480)
    exif = img.getexif()
    assert len(exif) == 0 and not exif.get_ifd(GPS_TAG)  # no GPS, no camera: nothing
    assert "exif" not in img.info and "icc_profile" not in img.info
    assert b"PhoneModel" not in got.data and b"Exif" not in got.data
    files = stored_files(app)
    assert len(files) == 2 and all(b"Exif" not in f.read_bytes() for f in files)
    thumb = Image.open(io.BytesIO(client.get(photo["thumb_url"], headers={"Authorization": staff_headers_cached(app)}).data))
    assert max(thumb.size) == 320 and len(thumb.getexif()) == 0


_TOKENS: dict[int, str] = {}


def staff_headers_cached(app) -> str:
    """One dispatcher token per app (the Authorization header's value)."""
    if id(app) not in _TOKENS:
        _TOKENS[id(app)] = staff_headers(app)["Authorization"]
    return _TOKENS[id(app)]


def test_exif_orientation_is_applied_before_the_exif_goes(app, client):
    # orientation 6: the camera held upright, the sensor's picture needs turning 90° clockwise
    r = post(client, jpeg_with_gps((600, 400), orientation=6))
    assert r.status_code == 201, r.json
    file_it(app, r.json["id"])
    pub = client.get(f"/api/v1/incidents/{r.json['id']}").json["photo"]
    img = Image.open(io.BytesIO(client.get(pub["url"]).data)).convert("RGB")
    assert img.size == (400, 600)  # upright: portrait
    # the red half was on the left of the sensor's picture: turned clockwise it is on top
    top, bottom = img.getpixel((200, 100)), img.getpixel((200, 500))
    assert top[0] > 150 and top[1] < 100 and min(bottom) > 200, (top, bottom)
    assert ORIENTATION not in img.getexif()


def test_heic_from_an_iphone_is_accepted(app, client):
    from pillow_heif import from_pillow

    img = Image.new("RGB", (500, 300), (20, 120, 200))
    heif = from_pillow(img)
    out = io.BytesIO()
    heif.save(out, quality=80)
    assert out.getvalue()[4:12] == b"ftypheic"
    r = post(client, out.getvalue(), name="IMG_0001.HEIC")
    assert r.status_code == 201, r.json
    file_it(app, r.json["id"])
    pub = client.get(f"/api/v1/incidents/{r.json['id']}").json["photo"]
    got = Image.open(io.BytesIO(client.get(pub["url"]).data))
    assert got.format == "JPEG" and got.size == (500, 300)
    assert abs(got.convert("RGB").getpixel((250, 150))[2] - 200) < 20


def test_png_with_transparency_is_stored_as_jpeg(app, client):
    img = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    out = io.BytesIO()
    img.save(out, "PNG")
    r = post(client, out.getvalue(), name="screenshot.png")
    assert r.status_code == 201, r.json
    file_it(app, r.json["id"])
    got = Image.open(io.BytesIO(client.get(client.get(f"/api/v1/incidents/{r.json['id']}").json["photo"]["url"]).data))
    assert got.format == "JPEG" and got.convert("RGB").getpixel((10, 10)) == (255, 255, 255)


# -- refused: nothing stored -----------------------------------------------------------------------
def _count(app) -> int:
    return len(app.extensions["gridmap"].incidents.repo.query(limit=1000))


def test_too_big_is_413_naming_the_setting_and_nothing_is_stored(app, client):
    before = _count(app)
    big = b"\xff\xd8\xff" + b"\0" * 2_100_000  # over photo_max_bytes (2,000,000) + the form allowance
    r = post(client, big)
    assert r.status_code == 413, r.json
    assert "photo_max_bytes" in r.json["detail"] and "照片" in r.json["detail"]
    assert _count(app) == before and stored_files(app) == []
    # the photo alone over the limit, the body within the allowance: still 413, from the photo's own check
    r = post(client, b"\xff\xd8\xff" + b"\0" * 2_010_000)
    assert r.status_code == 413 and "photo_max_bytes" in r.json["detail"]
    assert _count(app) == before and stored_files(app) == []


def test_the_other_routes_keep_the_one_megabyte_limit(app, client):
    boundary, body = encode_multipart({"x": "y" * 1_200_000})
    r = client.post("/api/v1/incidents/1/actions", data=body, content_type=f"multipart/form-data; boundary={boundary}",
                    headers={"Authorization": staff_headers_cached(app)})
    assert r.status_code == 413
    r = client.post("/api/v1/incidents", json={"category": "exposed_rubbish", "description": "x" * 1_100_000})
    assert r.status_code == 413  # a JSON report is a few kB: 1 MB stays its limit


@pytest.mark.parametrize("payload,name,word", [
    (b"%PDF-1.7\n" + b"x" * 500, "photo.jpg", "JPEG, PNG or HEIC"),  # the name lies: the content decides
    (b"GIF89a" + b"\0" * 100, "anim.gif", "JPEG, PNG or HEIC"),
    (b"", "empty.jpg", "empty"),
    (jpeg_with_gps()[:3000], "cut.jpg", "damaged or cut short"),  # an upload cut off mid-file
])
def test_not_an_image_is_422_naming_the_problem(app, client, payload, name, word):
    before = _count(app)
    r = post(client, payload, name=name)
    assert r.status_code == 422 and word in r.json["detail"], r.json
    assert "照片" in r.json["detail"] and r.json["detail"].index("照片") < r.json["detail"].index("photo", 8)  # Chinese first
    assert _count(app) == before and stored_files(app) == []


def test_a_photo_as_text_is_refused_not_dropped(app, client):
    before = _count(app)
    r = client.post("/api/v1/incidents", json={"category": "exposed_rubbish", "lon": IN_G2[0], "lat": IN_G2[1],
                                                "photo": "data:image/jpeg;base64,/9j/4AAQ"})
    assert r.status_code == 422 and "multipart/form-data" in r.json["detail"]
    boundary, body = encode_multipart({"category": "exposed_rubbish", "lon": str(IN_G2[0]), "lat": str(IN_G2[1]),
                                       "photo": "not a file"})  # a form field named photo, not a file part
    r = client.post("/api/v1/incidents", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 422 and "multipart/form-data" in r.json["detail"]
    assert _count(app) == before


def test_a_gif_is_refused_even_though_pillow_reads_it(app, client):
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    r = post(client, out.getvalue(), name="x.gif")
    assert r.status_code == 422 and "JPEG, PNG or HEIC" in r.json["detail"]


def test_a_decompression_bomb_is_refused_before_decoding(app, client):
    out = io.BytesIO()
    Image.new("1", (4000, 3000)).save(out, "PNG")  # 12 Mpx in a few kB, over photo_max_pixels (4 Mpx)
    assert len(out.getvalue()) < 50_000
    r = post(client, out.getvalue(), name="bomb.png")
    assert r.status_code == 422 and "photo_max_pixels" in r.json["detail"] and "4000 x 3000" in r.json["detail"]
    assert stored_files(app) == []


def test_a_refused_report_leaves_no_photo_file(app, client):
    r = post(client, jpeg_with_gps(), lon="120.0", lat="30.0")  # far outside the county
    assert r.status_code == 422
    r = post(client, jpeg_with_gps(), category="no_such_category")
    assert r.status_code == 422
    assert stored_files(app) == []


def test_a_failed_transaction_removes_the_files(app, client, monkeypatch):
    repo = app.extensions["gridmap"].incidents.repo

    def broken(*a, **kw):
        raise RuntimeError("the database went away mid-insert")

    monkeypatch.setattr(repo, "add", broken)  # the store's insert fails after the files were written
    with pytest.raises(RuntimeError):
        app.extensions["gridmap"].incidents.report(
            {"category": "exposed_rubbish", "lon": IN_G2[0], "lat": IN_G2[1]}, photo=jpeg_with_gps())
    assert stored_files(app) == []


def test_photos_off_is_a_clear_422(services, tmp_path):
    app = create_app(Settings(db=services.settings.db, photo_dir="off"))
    try:
        r = post(app.test_client(), jpeg_with_gps())
        assert r.status_code == 422 and "photo_dir" in r.json["detail"]
    finally:
        app.extensions["gridmap"].store.close()


# -- the privacy policy, the status page, Open311 ----------------------------------------------------
def test_public_sees_the_photo_once_filed_and_the_status_page_shows_the_thumbnail(app, client):
    r = post(client, jpeg_with_gps())
    iid = r.json["id"]
    page = client.get(f"/status/{iid}").get_data(as_text=True)
    assert 'id="photo-withheld"' in page and 'id="photo-thumb"' not in page
    file_it(app, iid)
    pub = client.get(f"/api/v1/incidents/{iid}").json
    assert pub["photo"]["thumb_url"] and pub["photo_withheld"] is False
    got = client.get(pub["photo"]["thumb_url"])
    assert got.status_code == 200 and "public" in got.headers["Cache-Control"]
    page = client.get(f"/status/{iid}").get_data(as_text=True)
    assert 'id="photo-thumb"' in page and pub["photo"]["thumb_url"].replace("http://localhost", "") in page
    # a wrong id, a made-up one, another incident's: 404
    other = post(client, None).json["id"]
    pid = pub["photo"]["url"].rsplit("/", 1)[1][:-4]
    assert client.get(f"/photos/{other}/{pid}.jpg").status_code == 404
    assert client.get(f"/photos/{iid}/{'0' * 32}.jpg").status_code == 404
    assert client.get(f"/photos/{iid}/..%2f..%2fetc.jpg").status_code == 404


def test_open311_multipart_media_and_media_url_resolves(app, client):
    data = {"service_code": "exposed_rubbish", "lat": str(IN_G2[1]), "long": str(IN_G2[0]), "description": "垃圾",
            "media": upload(jpeg_with_gps(), "m.jpg")}
    r = multipart(client, "/open311/v2/requests.json", data)
    assert r.status_code == 201, r.json
    rid = r.json[0]["service_request_id"]
    assert client.get(f"/open311/v2/requests/{rid}.json").json[0]["media_url"] == ""  # not yet filed
    file_it(app, rid)
    for fmt in ("json", "xml"):
        got = client.get(f"/open311/v2/requests/{rid}.{fmt}")
        if fmt == "json":
            url = got.json[0]["media_url"]
        else:
            import xml.etree.ElementTree as ET

            url = ET.fromstring(got.data).find("request/media_url").text
        assert url.startswith("http://localhost/photos/"), url
        img = client.get(url)
        assert img.status_code == 200 and Image.open(io.BytesIO(img.data)).format == "JPEG"
    listed = client.get("/open311/v2/requests.json").json
    assert any(x["service_request_id"] == rid and x["media_url"] == url for x in listed)
    # a client's own media_url link is kept when no photo was sent
    r = client.post("/open311/v2/requests.json", data={"service_code": "exposed_rubbish", "lat": str(IN_G2[1]),
                                                       "long": str(IN_G2[0]), "media_url": "https://example.org/a.jpg"})
    assert client.get(f"/open311/v2/requests/{r.json[0]['service_request_id']}.json").json[0]["media_url"] \
        == "https://example.org/a.jpg"
    r = multipart(client, "/open311/v2/requests.xml", {**data, "media": upload(b"not an image", "m.jpg")})
    assert r.status_code == 400 and b"JPEG, PNG or HEIC" in r.data  # the spec's 400 for bad input


def test_photo_limits_must_be_positive(tmp_path):
    from gridmap.errors import InputError

    with pytest.raises(InputError, match="photo_max_bytes"):
        Settings.load({"photo_max_bytes": 0}, environ={})


def test_the_default_folder_is_beside_a_sqlite_store(tmp_path):
    from gridmap.store.photofiles import photo_root

    assert photo_root("", str(tmp_path / "g.db")) == tmp_path / "g.db.photos"
    assert photo_root("", "postgresql://u@h/db") is None
    assert photo_root("off", str(tmp_path / "g.db")) is None
    assert photo_root(str(tmp_path / "p"), "postgresql://u@h/db") == tmp_path / "p"


# -- staff on the board; the report form's own post ----------------------------------------------------
def test_the_board_shows_staff_the_thumbnail_at_once(app, client):
    from .pages import login

    iid = post(client, jpeg_with_gps()).json["id"]  # reported: not yet public
    create_user(app.extensions["gridmap"].store, "boss", "password123", "dispatcher")
    login(client, "boss")
    html = client.get("/board").get_data(as_text=True)
    row = client.get(f"/board.json?id={iid}").json
    photo = row["incidents"][0]["photo"]
    assert photo["thumb_url"].replace("http://localhost", "") in html
    assert client.get(photo["thumb_url"]).status_code == 200  # the session's dispatcher, before filing


def test_the_report_page_offers_the_camera_and_posts_multipart_with_its_csrf_token(app, client):
    from .pages import csrf, login

    html = client.get("/report").get_data(as_text=True)
    assert 'type="file" accept="image/*" capture="environment"' in html and "不超过 1.91 MB" in html
    create_user(app.extensions["gridmap"].store, "clerk", "password123", "dispatcher")
    login(client, "clerk", next_="/report")  # a signed-in user's post needs the page's CSRF token
    token = csrf(client.get("/report").get_data(as_text=True))
    boundary, body = encode_multipart({"category": "exposed_rubbish", "lon": str(IN_G2[0]), "lat": str(IN_G2[1]),
                                       "source": "web", "photo": upload(jpeg_with_gps(), "p.jpg")})
    headers = {"X-CSRFToken": token}
    r = client.post("/api/v1/incidents", data=body, content_type=f"multipart/form-data; boundary={boundary}",
                    headers=headers)
    assert r.status_code == 201, r.json
    assert r.json["photo"]["width"] == 640 and r.json["source"] == "web"


def test_no_photo_field_where_the_store_takes_none(services):
    app = create_app(Settings(db=services.settings.db, photo_dir="off"))
    try:
        assert 'id="photo"' not in app.test_client().get("/report").get_data(as_text=True)
    finally:
        app.extensions["gridmap"].store.close()


def test_a_12_megapixel_camera_jpeg_is_scaled_and_stays_upright():
    from gridmap.incidents.photos import MAX_SIDE, MIN_SIDE, prepare

    ready = prepare(jpeg_with_gps((4032, 3024), orientation=6), 20_000_000, 50_000_000)
    assert ready.height > ready.width  # turned upright
    assert MIN_SIDE <= max(ready.width, ready.height) <= MAX_SIDE
    assert max(ready.thumb_width, ready.thumb_height) == 320
    with Image.open(io.BytesIO(ready.jpeg)) as img:
        assert len(img.getexif()) == 0 and img.size == (ready.width, ready.height)
        top, bottom = img.convert("RGB").getpixel((ready.width // 2, 10)), img.getpixel((ready.width // 2, ready.height - 10))
        assert top[0] > 150 and top[1] < 100 and min(bottom) > 200  # the red half on top, as the camera saw it


# -- staff on the board, in Chromium ----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_dispatcher_sees_the_photo_on_the_board_in_chromium(tmp_path, sample_dir, device):
    from . import browser
    from .conftest import sample_app
    from .live_server import live_server

    browser.require_browser()
    app = browser.with_maps(sample_app(tmp_path, sample_dir))
    try:
        create_user(app.extensions["gridmap"].store, "disp1", "password123", "dispatcher")
        r = post(app.test_client(), jpeg_with_gps((1200, 900), orientation=6))
        assert r.status_code == 201, r.json
        iid = r.json["id"]
        size = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1400, "height": 900}}[device]
        extra = {"is_mobile": True, "has_touch": True} if device == "phone" else {}
        with live_server(app) as base, browser.chromium() as b:
            page = b.new_context(viewport=size, locale="zh-CN", **extra).new_page()
            log = browser.watch(page)
            page.goto(f"{base}/board", wait_until="load")
            page.fill('input[name="username"]', "disp1")
            page.fill('input[name="password"]', "password123")
            page.click('button[type="submit"]')
            page.wait_for_url("**/board*")
            thumb = page.locator(f'tr[data-id="{iid}"] .gm-thumb img')
            thumb.scroll_into_view_if_needed()
            page.wait_for_function(f"""() => {{ const i = document.querySelector('tr[data-id="{iid}"] .gm-thumb img');
                return i && i.complete && i.naturalWidth > 0; }}""")
            assert page.evaluate(f"""() => document.querySelector('tr[data-id="{iid}"] .gm-thumb img').naturalHeight""") == 320
            box = thumb.bounding_box()
            assert box and box["width"] <= 100 and box["height"] <= 100  # small in the row (96 px and its border)
            browser.screenshot(page, tmp_path, f"board-photo-{device}.png", full_page=False)
            assert log.problems() == [], log.problems()
    finally:
        app.extensions["gridmap"].store.close()


# -- orphans: a process killed between writing the files and committing ----------------------------
def test_prune_photos_removes_only_old_files_no_incident_names(app, client, tmp_path):
    import os
    import time

    from click.testing import CliRunner

    from gridmap.cli import main
    from gridmap.store import photofiles

    kept = post(client, jpeg_with_gps()).json["id"]
    root = photo_root(app)
    orphan, young = photofiles.new_id(), photofiles.new_id()
    for pid in (orphan, young):
        photofiles.write(root, pid, b"x", b"y")
    stale_tmp = root / orphan[:2] / ".tmp-abc.jpg"
    stale_tmp.write_bytes(b"half")
    old = time.time() - 3 * 3600
    for f in root.rglob("*"):
        if f.is_file() and young not in f.name:
            os.utime(f, (old, old))
    env = {"GRIDMAP_PHOTO_DIR": str(root)}
    db = app.extensions["gridmap"].settings.db
    dry = CliRunner().invoke(main, ["--db", db, "incidents", "prune-photos", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would remove 3 file(s)" in dry.output and orphan in dry.output and len(stored_files(app)) == 7
    done = CliRunner().invoke(main, ["--db", db, "incidents", "prune-photos"], env=env)
    assert done.exit_code == 0 and "removed 3 file(s)" in done.output, done.output
    left = {photofiles.id_of(f) for f in stored_files(app)}
    photo_id = app.extensions["gridmap"].incidents.repo.get(kept).extra["photo"]["id"]
    assert left == {photo_id, young}  # the report's photo and the file younger than an hour stay
